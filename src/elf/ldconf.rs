//! `/etc/ld.so.conf`, as ldconfig reads it: one directory per line, `#` comments, `include`
//! lines with glob patterns (relative ones from the including file's directory), `hwcap` lines
//! ignored. Used only when a root has no usable ld.so.cache, to stand in for what ldconfig would
//! have cached.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::Glob;

use crate::host::Host;

/// Includes nested deeper than this are a loop or an attack.
const MAX_DEPTH: usize = 16;
const MAX_DIRS: usize = 4096;

#[derive(Debug, Default, Clone)]
pub struct LdConf {
    pub dirs: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn load(host: &dyn Host, path: &Path) -> LdConf {
    let mut conf = LdConf::default();
    let mut seen = HashSet::new();
    read_file(host, path, 0, &mut seen, &mut conf);
    conf
}

fn read_file(
    host: &dyn Host,
    path: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    conf: &mut LdConf,
) {
    // Relative includes spell the same file differently (`conf.d/../ld.so.conf`).
    if depth > MAX_DEPTH || !seen.insert(crate::host::normalize(path)) {
        conf.warnings.push(format!(
            "{}: include loop or nesting too deep",
            path.display()
        ));
        return;
    }
    let Ok(text) = host.read_to_string(path) else {
        if depth == 0 {
            conf.warnings
                .push(format!("{}: not readable", path.display()));
        }
        return;
    };
    let base = path.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pattern in words {
                    for file in expand_glob(host, base, pattern) {
                        read_file(host, &file, depth + 1, seen, conf);
                    }
                }
            }
            Some(w) if w.eq_ignore_ascii_case("hwcap") => {}
            _ => add_dir(line, conf),
        }
    }
}

/// ldconfig accepts `dir=TYPE` from libc5 days and trailing slashes; keep the bare directory.
fn add_dir(line: &str, conf: &mut LdConf) {
    let dir = line.split('=').next().unwrap_or("").trim();
    let dir = dir.trim_end_matches('/');
    let dir = if dir.is_empty() { "/" } else { dir };
    if conf.dirs.len() < MAX_DIRS && !conf.dirs.iter().any(|d| d == dir) {
        conf.dirs.push(dir.to_string());
    }
}

/// Glob patterns are supported in the last path component, which is how every distribution
/// writes them (`/etc/ld.so.conf.d/*.conf`). Matches are sorted, as glob(3) returns them.
fn expand_glob(host: &dyn Host, base: &Path, pattern: &str) -> Vec<PathBuf> {
    let full = if pattern.starts_with('/') {
        PathBuf::from(pattern)
    } else {
        base.join(pattern)
    };
    let (Some(dir), Some(name)) = (full.parent(), full.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    if !name.contains(['*', '?', '[']) {
        return vec![full.clone()];
    }
    let Ok(glob) = Glob::new(&name) else {
        return Vec::new();
    };
    let matcher = glob.compile_matcher();
    let mut out: Vec<PathBuf> = host
        .read_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| matcher.is_match(Path::new(n)))
        .map(|n| dir.join(n))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_globs_comments_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc/ld.so.conf.d");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            dir.path().join("etc/ld.so.conf"),
            "include /etc/ld.so.conf.d/*.conf\n/opt/x/lib/ # trailing\nhwcap 0 nosegneg\n",
        )
        .unwrap();
        std::fs::write(etc.join("b.conf"), "/b\ninclude ../ld.so.conf\n").unwrap();
        std::fs::write(etc.join("a.conf"), "# c\n/a=libc6\n").unwrap();
        std::fs::write(etc.join("a.txt"), "/never\n").unwrap();
        let conf = load(&crate::host::at(dir.path()), Path::new("/etc/ld.so.conf"));
        assert_eq!(conf.dirs, vec!["/a", "/b", "/opt/x/lib"]);
        assert_eq!(conf.warnings.len(), 1);
    }
}
