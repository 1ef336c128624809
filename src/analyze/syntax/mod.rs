//! Reading a configuration: the entry file through the host, its includes followed, directives
//! with the file and line they came from. The grammars are named in `crate::registry` (line
//! words here; nginx, Apache and PostgreSQL with their applications in `crate::apps`).

pub(crate) mod words;

pub(crate) use words::split_words;

use crate::apps::apache::conf as apache;
use crate::host::Host;
use crate::registry::Syntax;
use std::path::{Path, PathBuf};

/// Include chains deeper than this are a loop or a hostile file.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Configuration files larger than this are not configuration.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Default, Clone)]
pub struct ConfigRead {
    /// Every file read, entry first, in the order they were included.
    pub files: Vec<PathBuf>,
    pub directives: Vec<Directive>,
    /// Includes that named nothing, files that could not be read.
    pub problems: Vec<String>,
    /// Directive names match whatever their case (Apache).
    pub fold_case: bool,
}

/// What a configuration is read with beyond its own text.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// The process's environment (`KEY=VALUE`), for syntaxes that expand variables (Apache).
    pub env: &'a [String],
    /// The server root relative includes are taken against, for syntaxes that have one (Apache);
    /// the others take the entry's directory.
    pub prefix: Option<&'a Path>,
}

impl ConfigRead {
    /// First arguments of every occurrence of any of `names`, in file order.
    pub fn values(&self, names: &[&str]) -> Vec<String> {
        self.directives
            .iter()
            .filter(|d| {
                names
                    .iter()
                    .any(|n| *n == d.name || (self.fold_case && n.eq_ignore_ascii_case(&d.name)))
            })
            .filter_map(|d| d.args.first().cloned())
            .collect()
    }
}

pub fn read(host: &dyn Host, syntax: &str, entry: &Path) -> ConfigRead {
    read_with(host, syntax, entry, ReadOptions::default())
}

pub fn read_with(host: &dyn Host, syntax: &str, entry: &Path, opts: ReadOptions) -> ConfigRead {
    let Some(syntax) = crate::registry::syntax(syntax) else {
        return ConfigRead {
            problems: vec![format!(
                "{}: {}",
                entry.display(),
                crate::registry::unknown(crate::registry::Kind::Syntax, syntax)
            )],
            ..ConfigRead::default()
        };
    };
    let mut out = ConfigRead {
        fold_case: syntax.fold_case,
        ..ConfigRead::default()
    };
    let base = entry.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut apache = syntax.server_root.then(|| apache::State {
        vars: opts
            .env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        root: opts.prefix.map_or_else(|| base.clone(), Path::to_path_buf),
    });
    read_file(host, syntax, entry, &base, 0, &mut apache, &mut out);
    out
}

fn read_file(
    host: &dyn Host,
    syntax: &Syntax,
    file: &Path,
    base: &Path,
    depth: usize,
    apache: &mut Option<apache::State>,
    out: &mut ConfigRead,
) {
    if depth > MAX_INCLUDE_DEPTH || out.files.iter().any(|f| f == file) {
        out.problems
            .push(format!("{}: include loop or too deep", file.display()));
        return;
    }
    let text = match host.read_limited(file, MAX_CONFIG_BYTES) {
        Ok(bytes) => {
            if bytes.len() as u64 == MAX_CONFIG_BYTES {
                out.problems.push(format!(
                    "{}: larger than {} MB; only its beginning was read as configuration",
                    file.display(),
                    MAX_CONFIG_BYTES >> 20
                ));
            }
            // Valid UTF-8 (the usual case) is taken as is, without a second copy.
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
        Err(e) => {
            out.problems.push(format!("{}: {e}", file.display()));
            return;
        }
    };
    out.files.push(file.to_path_buf());
    let directives = (syntax.tokenize)(&text);
    for (line, name, mut args) in directives {
        let mut base = base.to_path_buf();
        if let Some(state) = apache.as_mut() {
            for var in state.apply(&name, &mut args) {
                out.problems.push(format!(
                    "{}:{line}: ${{{var}}} is not defined in the process environment",
                    file.display()
                ));
            }
            base = state.root.clone();
        }
        let include_word = syntax
            .includes
            .iter()
            .any(|w| *w == name || (syntax.fold_case && w.eq_ignore_ascii_case(&name)));
        if include_word {
            if let Some(pattern) = args.first() {
                for path in expand_include(host, &base, pattern, out) {
                    read_file(host, syntax, &path, &base, depth + 1, apache, out);
                }
            }
        }
        out.directives.push(Directive {
            name,
            args,
            file: file.to_path_buf(),
            line,
        });
    }
}

/// Expands an include pattern (relative to `base`, globs allowed) to existing files, sorted as
/// nginx, redis and Apache all do.
fn expand_include(
    host: &dyn Host,
    base: &Path,
    pattern: &str,
    out: &mut ConfigRead,
) -> Vec<PathBuf> {
    let full = crate::host::normalize(&base.join(pattern));
    let has_glob = pattern.contains(['*', '?', '[']);
    if !has_glob {
        return vec![full];
    }
    let found = super::glob::expand(host, &full.to_string_lossy());
    if found.is_empty() {
        out.problems
            .push(format!("include {pattern}: matches nothing"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_nginx_includes_with_globs_and_keeps_lines() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/nginx/conf.d")).unwrap();
        std::fs::write(
            root.join("etc/nginx/nginx.conf"),
            "user www-data;\nhttp {\n  include conf.d/*.conf;\n}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/nginx/conf.d/a.conf"),
            "server { listen 127.0.0.1:8080; root /srv/www; }\n",
        )
        .unwrap();
        let read = read(
            &crate::host::at(root),
            "nginx",
            Path::new("/etc/nginx/nginx.conf"),
        );
        assert_eq!(read.files.len(), 2, "{:?}", read.problems);
        assert_eq!(read.values(&["listen"]), vec!["127.0.0.1:8080"]);
        assert_eq!(read.values(&["root"]), vec!["/srv/www"]);
        assert_eq!(read.values(&["user"]), vec!["www-data"]);
    }

    #[test]
    fn apache_includes_follow_server_root_and_expand_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("srv/httpd/conf.d")).unwrap();
        std::fs::write(
            root.join("srv/httpd/httpd.conf"),
            "ServerRoot /srv/httpd\nIncludeOptional conf.d/*.conf\n\
             <Directory ${SITE}>\n  Require all granted\n</Directory>\n",
        )
        .unwrap();
        std::fs::write(
            root.join("srv/httpd/conf.d/site.conf"),
            "DOCUMENTROOT ${SITE}/htdocs\nuser ${RUN_USER}\n",
        )
        .unwrap();
        let env = [
            "SITE=/srv/site".to_string(),
            "RUN_USER=www-data".to_string(),
        ];
        let read = read_with(
            &crate::host::at(root),
            "apache",
            Path::new("/srv/httpd/httpd.conf"),
            ReadOptions {
                env: &env,
                prefix: Some(Path::new("/etc/apache2")),
            },
        );
        assert_eq!(read.files.len(), 2, "{:?}", read.problems);
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert_eq!(read.values(&["DocumentRoot"]), vec!["/srv/site/htdocs"]);
        assert_eq!(read.values(&["User"]), vec!["www-data"]);
        assert_eq!(read.values(&["Require"]), vec!["all"]);
    }

    #[test]
    fn include_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/r.conf"),
            "include /etc/r.conf\nport 1\n",
        )
        .unwrap();
        let read = read(
            &crate::host::at(dir.path()),
            "redis",
            Path::new("/etc/r.conf"),
        );
        assert_eq!(read.values(&["port"]), vec!["1"]);
        assert!(!read.problems.is_empty());
    }
}
