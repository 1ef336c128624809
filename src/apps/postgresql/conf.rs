//! postgresql.conf: `name = value` or `name value` per line, `#` comments outside quotes, values
//! single-quoted with `''` or `\'` for a quote. Parameter names are case-insensitive.
//!
//! `include_if_exists FILE` and `include_dir DIR` come out as `include` (the second as
//! `DIR/*.conf`, the files PostgreSQL reads from it, in name order), so the shared include
//! follower reads them.

pub fn tokenize(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let Some((name, value)) = parameter(raw) else {
            continue;
        };
        let (name, value) = match name.as_str() {
            "include_if_exists" => ("include".to_string(), value),
            "include_dir" => (
                "include".to_string(),
                format!("{}/*.conf", value.trim_end_matches('/')),
            ),
            _ => (name, value),
        };
        out.push((i + 1, name, vec![value]));
    }
    out
}

fn parameter(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    let name_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(line.len());
    if name_len == 0 {
        return None; // blank, a comment, or not a parameter
    }
    let name = line[..name_len].to_ascii_lowercase();
    let rest = line[name_len..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    Some((name, value(rest)))
}

fn value(rest: &str) -> String {
    let mut chars = rest.chars().peekable();
    let mut v = String::new();
    if rest.starts_with('\'') {
        chars.next();
        while let Some(c) = chars.next() {
            match c {
                '\\' => v.extend(chars.next()),
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    v.push('\'');
                }
                '\'' => break,
                c => v.push(c),
            }
        }
        return v;
    }
    rest.split('#')
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_debian_style_parameters() {
        let t = tokenize(
            "# comment\n\
             data_directory = '/var/lib/postgresql/15/main'\t\t# use data in another directory\n\
             Port 5433 # trailing\n\
             unix_socket_directories = '/var/run/postgresql, /tmp'\n\
             log_line_prefix = '%m [%p] it''s'\n\
             include_dir = 'conf.d'\n\
             include_if_exists 'extra.conf'\n\
             \n",
        );
        let pairs: Vec<(&str, &str)> = t
            .iter()
            .map(|(_, n, a)| (n.as_str(), a[0].as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("data_directory", "/var/lib/postgresql/15/main"),
                ("port", "5433"),
                ("unix_socket_directories", "/var/run/postgresql, /tmp"),
                ("log_line_prefix", "%m [%p] it's"),
                ("include", "conf.d/*.conf"),
                ("include", "extra.conf"),
            ]
        );
        assert_eq!(t[1].0, 3, "line numbers kept");
    }
}
