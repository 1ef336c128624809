//! Search path lists as ld.so builds them: splitting, dynamic string tokens, and expanding each
//! directory into its hwcaps subdirectories.

/// Entries beyond this in one list are dropped (a hostile RUNPATH with millions of `:`).
pub const MAX_DIRS: usize = 1024;
/// A path list longer than this is cut, as no loader config is.
const MAX_LIST: usize = 64 * 1024;

/// Values for `$ORIGIN`, `$LIB` and `$PLATFORM`.
pub struct Dst<'a> {
    pub origin: &'a str,
    pub lib: &'a str,
    pub platform: &'a str,
}

/// glibc's `_dl_dst_substitute`: known tokens are replaced; an element whose token has no
/// value is dropped (None); unknown `$NAME`s stay literal.
pub fn expand(input: &str, dst: &Dst) -> Option<String> {
    if !input.contains('$') {
        return Some(input.to_string());
    }
    let mut out = String::with_capacity(input.len() + 32);
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let token = [
            ("ORIGIN", dst.origin),
            ("PLATFORM", dst.platform),
            ("LIB", dst.lib),
        ]
        .into_iter()
        .find_map(|(name, value)| token_len(rest, name).map(|len| (len, value)));
        match token {
            Some((_, "")) => return None,
            Some((len, value)) => {
                out.push_str(value);
                rest = &rest[len..];
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Length of `NAME` or `{NAME}` at the start of `s`, when it is a whole token.
fn token_len(s: &str, name: &str) -> Option<usize> {
    if let Some(inner) = s.strip_prefix('{') {
        return inner
            .strip_prefix(name)
            .filter(|r| r.starts_with('}'))
            .map(|_| name.len() + 2);
    }
    let after = s.strip_prefix(name)?;
    let ident = after
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    (!ident).then_some(name.len())
}

/// Splits a path list into directories: DSTs expanded, trailing slashes removed, empty and
/// relative entries taken from `cwd` (ld.so uses the process's; we only know "/"), duplicates
/// dropped.
pub fn split_list(list: &str, seps: &[char], dst: &Dst, warnings: &mut Vec<String>) -> Vec<String> {
    let list = if list.len() > MAX_LIST {
        warnings.push(format!("search path list longer than {MAX_LIST} bytes cut"));
        &list[..floor_char_boundary(list, MAX_LIST)]
    } else {
        list
    };
    let mut dirs: Vec<String> = Vec::new();
    let mut relative = false;
    for element in list.split(seps) {
        if dirs.len() >= MAX_DIRS {
            warnings.push(format!(
                "more than {MAX_DIRS} search directories; rest ignored"
            ));
            break;
        }
        let Some(expanded) = expand(element, dst) else {
            continue;
        };
        relative |= !expanded.starts_with('/');
        let dir = normalize_dir(&expanded);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    if relative {
        warnings.push(format!(
            "relative entries in search path {list:.80?} taken from / (ld.so uses the process's working directory)"
        ));
    }
    dirs
}

fn normalize_dir(dir: &str) -> String {
    let trimmed = dir.trim_end_matches('/').trim_start_matches("./");
    if dir.starts_with('/') {
        return if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.into()
        };
    }
    if trimmed.is_empty() || trimmed == "." {
        "/".into()
    } else {
        format!("/{trimmed}")
    }
}

/// `dir/name`, as ld.so concatenates them (no normalisation: `$ORIGIN/../lib` stays so).
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Dst = Dst {
        origin: "/opt/app/bin",
        lib: "lib/x86_64-linux-gnu",
        platform: "haswell",
    };

    #[test]
    fn tokens_expand_like_glibc() {
        assert_eq!(expand("$ORIGIN/../lib", &D).unwrap(), "/opt/app/bin/../lib");
        assert_eq!(
            expand("${ORIGIN}/x/$LIB/$PLATFORM", &D).unwrap(),
            "/opt/app/bin/x/lib/x86_64-linux-gnu/haswell"
        );
        assert_eq!(expand("/a/$ORIGINAL", &D).unwrap(), "/a/$ORIGINAL");
        assert_eq!(expand("/a/$FOO/b", &D).unwrap(), "/a/$FOO/b");
        let none = Dst { platform: "", ..D };
        assert_eq!(expand("/a/$PLATFORM", &none), None);
    }

    #[test]
    fn lists_split_dedupe_and_cap() {
        let mut w = Vec::new();
        let dirs = split_list("/a/:/b::/a;x", &[':', ';'], &D, &mut w);
        assert_eq!(dirs, vec!["/a", "/b", "/", "/x"]);
        assert_eq!(w.len(), 1);
        let huge = ":/z".repeat(1_000_000);
        let mut w = Vec::new();
        let dirs = split_list(&huge, &[':'], &D, &mut w);
        assert!(dirs.len() <= MAX_DIRS);
    }
}
