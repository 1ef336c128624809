//! Line-oriented configuration: `directive arg arg` per line (redis, Apache) or `key = value`.

/// (line, directive, args) for each non-comment line. Quotes group words; `#` starts a comment
/// only at the beginning of a word, as redis and Apache read it.
pub fn tokenize(text: &str, key_value: bool) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if key_value {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').to_string();
                out.push((i + 1, k.trim().to_string(), vec![v]));
                continue;
            }
        }
        let mut words = split_words(line);
        if words.is_empty() {
            continue;
        }
        let name = words.remove(0);
        out.push((i + 1, name, words));
    }
    out
}

pub(crate) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            word.push(n);
                        }
                    }
                    c if c == first => break,
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_words_and_skips_comments() {
        let t = tokenize(
            "# c\nlogfile \"\"\ndir /var/lib/redis # trailing\nsave 900 1\n",
            false,
        );
        assert_eq!(t[0], (2, "logfile".into(), vec!["".into()]));
        assert_eq!(t[1], (3, "dir".into(), vec!["/var/lib/redis".into()]));
        assert_eq!(t[2].2, vec!["900".to_string(), "1".to_string()]);
        let kv = tokenize("extension = \"gd\"\n", true);
        assert_eq!(kv[0], (1, "extension".into(), vec!["gd".into()]));
    }
}
