//! Cause 2: what a configuration names. Any text configuration the plan takes is read for words
//! that are existing paths, absolute or relative to the configuration's directory, the working
//! directory or a server root the same file names; include-like lines are followed (globs and
//! directories expanded), within bounds of depth, count and size. No syntax is assumed: an
//! analyzer's tokenizer knows a format, this scanner only knows what a path looks like.

use super::paths::{self, TreeRefused};
use super::{AppFacts, Found, Kind};
use crate::analyze::syntax::split_words;
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use std::collections::BTreeSet;
use std::path::Path;

/// Include chains deeper than this are a loop or a hostile file.
const MAX_DEPTH: usize = 8;
/// Configuration files read by one application's scan.
const MAX_FILES: usize = 200;
/// Files larger than this are data, not configuration.
const MAX_BYTES: u64 = 1 << 20;

/// First words of lines that pull in other files.
const INCLUDE_WORDS: &[&str] = &[
    "include",
    "includedir",
    "include_dir",
    "include-dir",
    "includeoptional",
    "include_optional",
    "include_if_exists",
    "import",
    "source",
    ".",
    "conf-dir",
    "confdir",
    "@include",
];

/// Key words whose directory value is where the program writes, not content to copy.
const STATE_KEYS: &[&str] = &[
    "data", "db", "state", "spool", "cache", "tmp", "temp", "upload", "session", "queue", "store",
    "log", "run", "pid", "socket", "lock",
];

/// Key words whose directory value is a base relative paths are taken against.
const ROOT_KEYS: &[&str] = &["root", "prefix", "home", "basedir", "base"];

struct Scan<'a> {
    inp: &'a Inputs<'a>,
    app: &'a AppFacts<'a>,
    read: BTreeSet<String>,
    found: Found,
}

pub fn tokens(inp: &Inputs, app: &AppFacts) -> Found {
    let mut scan = Scan {
        inp,
        app,
        read: BTreeSet::new(),
        found: Found::default(),
    };
    let configs: Vec<String> = app
        .files
        .roles()
        .filter(|(_, r)| *r == Role::Config)
        .map(|(p, _)| p.to_string())
        .collect();
    for config in configs {
        scan.file(&config, &[], 0);
    }
    scan.found
}

/// A line's words with the key they follow (`server.document-root = "/srv/x"`: key
/// `server.document-root`).
fn words_of(line: &str) -> Vec<String> {
    split_words(line)
        .into_iter()
        .flat_map(|w| {
            w.split(['=', ',', ';', '(', ')', '{', '}', '<', '>'])
                .map(|p| p.trim_matches(|c| "\"'`".contains(c)).to_string())
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The line without its comment: `#` at a word's start, `;` or `//` at the line's.
fn uncommented(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with(';') || t.starts_with("//") || t.starts_with('#') {
        return "";
    }
    // split_words stops at a `#` starting a word; quoted `#` stays.
    line
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|b| *b == 0)
}

impl Scan<'_> {
    /// `inherited`: the bases of the file that included this one (a relative path in an
    /// included file is often meant from the main configuration's place).
    fn file(&mut self, file: &str, inherited: &[String], depth: usize) {
        if depth > MAX_DEPTH || self.read.len() >= MAX_FILES || !self.read.insert(file.to_string())
        {
            return;
        }
        let host = self.inp.host;
        let Ok(bytes) = host.read_limited(Path::new(file), MAX_BYTES + 1) else {
            return;
        };
        if bytes.len() as u64 > MAX_BYTES || is_binary(&bytes) {
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        let dir = Path::new(file)
            .parent()
            .map_or("/".to_string(), |p| p.to_string_lossy().into_owned());
        let mut bases = vec![dir];
        bases.extend(self.roots(&text, &bases.clone()));
        for b in inherited.iter().map(String::as_str).chain(self.app.cwd()) {
            if !bases.iter().any(|x| x == b) {
                bases.push(b.to_string());
            }
        }
        for (n, line) in text.lines().enumerate() {
            let words = words_of(uncommented(line));
            let Some(first) = words.first() else { continue };
            let at = format!("{file}:{}", n + 1);
            let key = first.to_ascii_lowercase();
            let key = key.trim_start_matches('!');
            if INCLUDE_WORDS.contains(&key) && words.len() > 1 {
                for w in &words[1..] {
                    self.include(w, &bases, &at, depth);
                }
                continue;
            }
            // `include_shell "cmd"` would run a program: never.
            if key.contains("shell") {
                continue;
            }
            for w in &words {
                self.word(w, key, &bases, &at, depth);
            }
        }
    }

    /// Directories the file names under a root-like key, as bases for its relative paths.
    fn roots(&self, text: &str, bases: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for line in text.lines() {
            let words = words_of(uncommented(line));
            let Some(key) = words.first().map(|k| k.to_ascii_lowercase()) else {
                continue;
            };
            if !ROOT_KEYS.iter().any(|r| key.contains(r)) {
                continue;
            }
            for w in words.iter().skip(1).filter(|w| w.starts_with('/')) {
                if self.inp.host.stat(Path::new(w)).is_ok_and(|m| m.is_dir())
                    && !bases.contains(w)
                    && !out.contains(w)
                {
                    out.push(w.clone());
                }
            }
        }
        out
    }

    fn include(&mut self, pattern: &str, bases: &[String], at: &str, depth: usize) {
        if pattern.contains('$') {
            return;
        }
        let host = self.inp.host;
        let candidates: Vec<String> = if pattern.starts_with('/') {
            vec![crate::host::normalize(Path::new(pattern))
                .to_string_lossy()
                .into_owned()]
        } else {
            bases
                .iter()
                .map(|b| {
                    crate::host::normalize(&Path::new(b).join(pattern))
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        };
        for full in candidates {
            let files: Vec<String> = if full.contains(['*', '?', '[']) {
                crate::analyze::glob::expand(host, &full)
                    .into_iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect()
            } else if host.stat(Path::new(&full)).is_ok_and(|m| m.is_dir()) {
                // `!includedir /etc/mysql/conf.d/`: the files directly in it.
                host.read_dir(Path::new(&full))
                    .unwrap_or_default()
                    .iter()
                    .map(|n| format!("{}/{}", full.trim_end_matches('/'), n.to_string_lossy()))
                    .filter(|p| host.stat(Path::new(p)).is_ok_and(|m| m.is_file()))
                    .collect()
            } else if host.stat(Path::new(&full)).is_ok_and(|m| m.is_file()) {
                vec![full]
            } else {
                continue;
            };
            for f in files {
                if paths::is_virtual(&f) {
                    continue;
                }
                self.found.file(
                    &f,
                    Role::Config,
                    format!("included by {at}"),
                    Confidence::Declared,
                );
                self.file(&f, bases, depth + 1);
            }
            // The first base the pattern names something under is the one the program uses.
            return;
        }
    }

    fn word(&mut self, word: &str, key: &str, bases: &[String], at: &str, depth: usize) {
        if word.len() < 2 || word.contains(['$', '%', '`', '*', '?', '\\']) {
            return;
        }
        let relative_ok = word.contains('/') || word.trim_start_matches('.').contains('.');
        // `./` and `..` name a base itself, whichever the program means: too vague to take.
        let names_a_file = Path::new(word)
            .components()
            .any(|c| matches!(c, std::path::Component::Normal(_)));
        if !(word.starts_with('/') || relative_ok && names_a_file) {
            return;
        }
        let host = self.inp.host;
        let candidates: Vec<String> = if word.starts_with('/') {
            paths::absolute(word, "/").into_iter().collect()
        } else if word.chars().all(|c| c.is_ascii_digit() || c == '.') {
            Vec::new()
        } else {
            bases
                .iter()
                .filter_map(|b| paths::absolute(word, b))
                .collect()
        };
        let Some(path) = candidates
            .iter()
            .find(|p| host.exists(Path::new(p)))
            .cloned()
        else {
            // Not there yet: a pid file or socket made at start needs its directory.
            if let Some(p) = candidates.first().filter(|p| paths::is_pid_or_lock(p)) {
                let why = format!("named in {at}");
                paths::runtime_parent(self.inp, p, &why, Confidence::Guessed, &mut self.found);
                return;
            }
            // `/a/b:/c/d`: a list of paths.
            if word.contains(':') && !word.contains("::") {
                for part in word.split(':').filter(|p| p.starts_with('/')) {
                    self.word(part, key, bases, at, depth);
                }
            }
            return;
        };
        if path == "/" || paths::is_virtual(&path) || self.app.in_volume(&path) {
            return;
        }
        let why = format!("named in {at}");
        if paths::is_pid_or_lock(&path) || paths::is_log(&path) || paths::is_transient(&path) {
            paths::runtime_parent(self.inp, &path, &why, Confidence::Guessed, &mut self.found);
            return;
        }
        let Ok(meta) = host.stat(Path::new(&path)) else {
            return;
        };
        if meta.is_file() {
            let role = if super::is_elf(self.inp, &path) {
                Role::Code
            } else {
                Role::Config
            };
            let configish = role == Role::Config && paths::looks_like_config(&path);
            self.found.file(&path, role, why, Confidence::Guessed);
            if configish {
                self.file(&path, bases, depth + 1);
            }
        } else if meta.is_dir() {
            self.dir(&path, key, &why);
        }
    }

    fn dir(&mut self, path: &str, key: &str, why: &str) {
        if paths::is_system_dir(path) {
            return;
        }
        let state_key = STATE_KEYS.iter().any(|k| key.contains(k));
        let state_place = ["/var/lib/", "/var/spool/", "/var/cache/", "/var/log/"]
            .iter()
            .any(|p| path.starts_with(p));
        if state_key || state_place {
            // Where the program writes: it must exist; what is in it is state, not content.
            self.found
                .add(path, Kind::Dir, Role::State, why, Confidence::Guessed);
            return;
        }
        if !self.app.takes_trees() {
            return;
        }
        match paths::tree(self.inp, path, self.app.package.as_deref()) {
            Ok(files) => {
                for f in files {
                    self.found.file(
                        f,
                        Role::Code,
                        format!("{why} (content under {path})"),
                        Confidence::Guessed,
                    );
                }
            }
            Err(TreeRefused::System) => {}
            Err(refused) => self.found.findings.push(Finding::warning(
                path,
                format!("{why}: {}", refused.describe(path)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn lighttpd_like_config_names_its_docroot_includes_and_modules() {
        let fx = Fixture::new();
        fx.write(
            "/srv/site/lighttpd.conf",
            "# a site\nserver.modules = ( \"mod_access\" )\n\
             server.document-root = \"/srv/site/htdocs\"\n\
             server.errorlog = \"/srv/site/logs/error.log\"\n\
             server.pid-file = \"/run/lk/lighttpd.pid\"\n\
             server.upload-dirs = ( \"/srv/site/uploads\" )\n\
             include \"conf.d/*.conf\"\n\
             include_shell \"/usr/share/lighttpd/create-mime.conf.pl\"\n\
             mimetype.assign = ( \".html\" => \"text/html\" )\n\
             # index-file.names = ( \"/srv/site/commented.html\" )\n\
             server.port = 8080\n",
        )
        .write(
            "/srv/site/conf.d/10-ssl.conf",
            "ssl.pemfile = \"certs/site.pem\"\n",
        )
        .write("/srv/site/certs/site.pem", "-----BEGIN CERTIFICATE-----\n")
        .write("/srv/site/htdocs/index.html", "<h1>hi</h1>\n")
        .write("/srv/site/htdocs/img/a.png", "\u{0}png")
        .write("/srv/site/logs/error.log", "")
        .write("/srv/site/commented.html", "")
        .write(
            "/usr/share/lighttpd/create-mime.conf.pl",
            "#!/usr/bin/perl\n",
        )
        .mkdir("/srv/site/uploads")
        .mkdir("/run/lk");
        let p = process(
            "/usr/sbin/lighttpd",
            &["lighttpd", "-f", "/srv/site/lighttpd.conf"],
            "/",
        );
        let found = fx.run(tokens, p, &[("/srv/site/lighttpd.conf", Role::Config)]);
        let inc = find(&found, "/srv/site/conf.d/10-ssl.conf");
        assert_eq!(inc.confidence, Confidence::Declared);
        assert!(
            inc.why.contains("included by /srv/site/lighttpd.conf:7"),
            "{}",
            inc.why
        );
        let pem = find(&found, "/srv/site/certs/site.pem");
        assert!(
            pem.why.contains("10-ssl.conf:1"),
            "relative to the config's dir: {}",
            pem.why
        );
        let page = find(&found, "/srv/site/htdocs/img/a.png");
        assert_eq!(
            (page.role, page.confidence),
            (Role::Code, Confidence::Guessed)
        );
        assert_eq!(find(&found, "/srv/site/uploads").kind, Kind::Dir);
        assert_eq!(find(&found, "/srv/site/logs").kind, Kind::Dir);
        assert_eq!(find(&found, "/run/lk").kind, Kind::Scratch);
        for absent in [
            "/srv/site/logs/error.log",
            "/srv/site/commented.html",
            "/usr/share/lighttpd/create-mime.conf.pl",
        ] {
            assert!(!has(&found, absent), "{absent}: {:#?}", found.evidence);
        }
    }

    #[test]
    fn mysql_includedirs_server_roots_and_binary_files() {
        let fx = Fixture::new();
        fx.write(
            "/etc/mysql/my.cnf",
            "[client]\nsocket = /run/mysqld/mysqld.sock\n!includedir /etc/mysql/conf.d/\n",
        )
        .write(
            "/etc/mysql/conf.d/server.cnf",
            "[mysqld]\nbasedir = /opt/db\nplugin_dir = lib/plugin\n",
        )
        .write("/opt/db/lib/plugin/auth.so", "\x7fELF")
        .write(
            "/etc/app/blob.conf",
            b"\x00\x01/etc/mysql/my.cnf".as_slice(),
        )
        .mkdir("/run/mysqld");
        let p = process("/usr/sbin/mariadbd", &["mariadbd"], "/");
        let found = fx.run(
            tokens,
            p,
            &[
                ("/etc/mysql/my.cnf", Role::Config),
                ("/etc/app/blob.conf", Role::Config),
            ],
        );
        assert!(has(&found, "/etc/mysql/conf.d/server.cnf"));
        let plugin = find(&found, "/opt/db/lib/plugin/auth.so");
        assert_eq!(
            plugin.role,
            Role::Code,
            "relative to the server root it names"
        );
        assert_eq!(find(&found, "/run/mysqld").kind, Kind::Scratch);
        assert!(
            !found.evidence.iter().any(|e| e.why.contains("blob.conf")),
            "binary files are not read as configuration"
        );
    }

    #[test]
    fn include_loops_and_relative_dots_end() {
        let fx = Fixture::new();
        fx.write("/etc/a/a.conf", "include b.conf\ndir ./\n")
            .write("/etc/a/b.conf", "include a.conf\n");
        let p = process("/usr/bin/a", &["a"], "/");
        let found = fx.run(tokens, p, &[("/etc/a/a.conf", Role::Config)]);
        assert!(has(&found, "/etc/a/b.conf"));
        assert_eq!(found.evidence.len(), 2, "{:#?}", found.evidence);
    }
}
