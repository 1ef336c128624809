//! Apache httpd's configuration grammar on top of the line-oriented words tokenizer: lines
//! continued with `\`, `<Section>` lines, `${VAR}` from the environment and `Define`, and
//! `ServerRoot`, which relative includes are taken against.
//!
//! Sections (`<IfModule>`, `<IfDefine>`, `<VirtualHost>`) are not evaluated: the directives inside
//! are all kept, so a lift takes what any branch may need.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What earlier lines change for later ones, across included files.
#[derive(Debug, Clone)]
pub struct State {
    /// The process environment plus every `Define`.
    pub vars: BTreeMap<String, String>,
    /// ServerRoot: relative includes and paths are taken against it.
    pub root: PathBuf,
}

/// (line, directive, args) per logical line; section lines are left out.
pub fn tokenize(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut line) = match pending.take() {
            Some((start, head)) => (start, head + " " + raw.trim()),
            None => (i + 1, raw.trim().to_string()),
        };
        if let Some(head) = line.strip_suffix('\\') {
            pending = Some((start, head.trim_end().to_string()));
            continue;
        }
        line = line.trim().to_string();
        if line.is_empty() || line.starts_with('#') || line.starts_with('<') {
            continue;
        }
        let mut words = crate::analyze::syntax::split_words(&line);
        if words.is_empty() {
            continue;
        }
        let name = words.remove(0);
        out.push((start, name, words));
    }
    out
}

impl State {
    /// Expands `${VAR}` in the arguments and applies `Define` and `ServerRoot`. Returns the
    /// variables that had no value (Apache leaves them as written and warns).
    pub fn apply(&mut self, name: &str, args: &mut [String]) -> Vec<String> {
        let mut undefined = Vec::new();
        for a in args.iter_mut() {
            *a = expand(a, &self.vars, &mut undefined);
        }
        if name.eq_ignore_ascii_case("define") {
            if let Some(key) = args.first() {
                let value = args.get(1).cloned().unwrap_or_default();
                self.vars.insert(key.clone(), value);
            }
        } else if name.eq_ignore_ascii_case("serverroot") {
            if let Some(root) = args.first() {
                self.root = crate::host::normalize(&self.root.join(root));
            }
        }
        undefined
    }
}

fn expand(word: &str, vars: &BTreeMap<String, String>, undefined: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let key = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match vars.get(key) {
            Some(v) => out.push_str(v),
            None => {
                out.push_str(&rest[start..start + 3 + len]);
                undefined.push(key.to_string());
            }
        }
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_continued_lines_and_skips_sections() {
        let t = tokenize(
            "<IfModule mod_php.c>\n  PHPIniDir \"/etc/php x\"\n</IfModule>\n\
             LogFormat \"%h %l\" \\\n   common\n# comment\nListen 80\n",
        );
        assert_eq!(t.len(), 3, "{t:?}");
        assert_eq!(t[0], (2, "PHPIniDir".into(), vec!["/etc/php x".into()]));
        assert_eq!(
            t[1],
            (4, "LogFormat".into(), vec!["%h %l".into(), "common".into()])
        );
        assert_eq!(t[2], (7, "Listen".into(), vec!["80".into()]));
    }

    #[test]
    fn expands_environment_and_defines_and_tracks_server_root() {
        let mut s = State {
            vars: BTreeMap::from([("RUN_USER".to_string(), "www-data".to_string())]),
            root: PathBuf::from("/etc/apache2"),
        };
        let mut user = vec!["${RUN_USER}".to_string()];
        assert!(s.apply("User", &mut user).is_empty());
        assert_eq!(user, ["www-data"]);
        s.apply("Define", &mut ["SITE".to_string(), "/srv/site".to_string()]);
        let mut root = vec!["${SITE}/htdocs".to_string(), "x${NOPE}y".to_string()];
        assert_eq!(s.apply("DocumentRoot", &mut root), ["NOPE"]);
        assert_eq!(root, ["/srv/site/htdocs", "x${NOPE}y"]);
        s.apply("serverroot", &mut ["../httpd".to_string()]);
        assert_eq!(s.root, PathBuf::from("/etc/httpd"));
    }
}
