//! nginx's configuration grammar: words, quoted strings, `;`-terminated directives, `{}` blocks.

/// (line, directive, args) for every directive, block openers included, nesting flattened: the
/// analyzers ask "every `root`", not "the `root` of the second server".
pub fn tokenize(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            ';' | '{' | '}' => {
                if !words.is_empty() {
                    let name = words.remove(0);
                    out.push((start_line, name, std::mem::take(&mut words)));
                }
            }
            '"' | '\'' => {
                if words.is_empty() {
                    start_line = line;
                }
                let mut word = String::new();
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        n if n == c => break,
                        '\n' => {
                            line += 1;
                            word.push(n);
                        }
                        n => word.push(n),
                    }
                }
                words.push(word);
            }
            c => {
                if words.is_empty() {
                    start_line = line;
                }
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, ';' | '{' | '}') {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                words.push(word);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_blocks_and_reads_quotes() {
        let t =
            tokenize("events {}\nhttp {\n  log_format x '$a \"b\"';\n  server { listen 80; }\n}\n");
        let names: Vec<&str> = t.iter().map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(names, ["events", "http", "log_format", "server", "listen"]);
        assert_eq!(t[2].2[1], "$a \"b\"");
        assert_eq!(t[4].0, 4);
    }
}
