//! Paths the user never wants taken, written once in gitignore syntax: a `.liftignore` beside
//! the plan and `--exclude PATTERN`, read with the `ignore` crate (ripgrep's own gitignore
//! matcher, so the syntax is exactly git's). Patterns are relative to the source host's `/`:
//! `*.log` matches at any depth, `cache/` any directory of that name, `/srv/app/tmp` one path.

use super::draft::Draft;
use crate::host::Host;
use crate::plan::{ExcludeRule, Excluded, Role};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use std::path::{Path, PathBuf};

/// The ignore file read beside the plan.
pub const FILE_NAME: &str = ".liftignore";
/// Where a command-line pattern comes from, in the plan.
pub const FROM_FLAG: &str = "--exclude";

#[derive(Debug, thiserror::Error)]
pub enum ExcludeError {
    #[error("{from}: bad pattern {pattern:?}: {message}")]
    Pattern {
        from: String,
        pattern: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The rules and their matcher.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    pub rules: Vec<ExcludeRule>,
    matcher: Option<Gitignore>,
}

impl Excludes {
    /// The rules of `dir/.liftignore` (when it exists), then the command line's: later rules
    /// win, as in git, so `--exclude '!x'` re-includes what the file left out.
    pub fn load(dir: &Path, patterns: &[String]) -> Result<Self, ExcludeError> {
        let path = dir.join(FILE_NAME);
        let mut rules = match std::fs::read_to_string(&path) {
            Ok(text) => parse(FILE_NAME, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ExcludeError::Read { path, source }),
        };
        rules.extend(patterns.iter().map(|p| ExcludeRule {
            pattern: p.clone(),
            from: FROM_FLAG.to_string(),
        }));
        Self::from_rules(rules)
    }

    /// The matcher for rules as a plan records them.
    pub fn from_rules(rules: Vec<ExcludeRule>) -> Result<Self, ExcludeError> {
        if rules.is_empty() {
            return Ok(Excludes::default());
        }
        let mut builder = GitignoreBuilder::new("");
        for (i, r) in rules.iter().enumerate() {
            // The index rides in `from`, to find the rule again from the glob that matched.
            builder
                .add_line(Some(PathBuf::from(i.to_string())), &r.pattern)
                .map_err(|e| ExcludeError::Pattern {
                    from: r.from.clone(),
                    pattern: r.pattern.clone(),
                    message: e.to_string(),
                })?;
        }
        let matcher = builder.build().map_err(|e| ExcludeError::Pattern {
            from: rules[0].from.clone(),
            pattern: rules[0].pattern.clone(),
            message: e.to_string(),
        })?;
        Ok(Excludes {
            rules,
            matcher: Some(matcher),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule that keeps the absolute `path` out, if any. As in git, nothing inside an
    /// excluded directory can be taken back by a later `!pattern`.
    pub fn rule_for(&self, path: &str, is_dir: bool) -> Option<&ExcludeRule> {
        let matcher = self.matcher.as_ref()?;
        let rel = Path::new(path.trim_start_matches('/'));
        if rel.as_os_str().is_empty() {
            return None;
        }
        let ancestors: Vec<&Path> = rel
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        for dir in ancestors.iter().rev() {
            if let Match::Ignore(glob) = matcher.matched(dir, true) {
                return self.rule_of(glob.from());
            }
        }
        match matcher.matched(rel, is_dir) {
            Match::Ignore(glob) => self.rule_of(glob.from()),
            _ => None,
        }
    }

    /// The record a plan keeps of an excluded path.
    pub fn excluded(&self, path: &str, is_dir: bool, what: impl Into<String>) -> Option<Excluded> {
        self.rule_for(path, is_dir).map(|r| Excluded {
            path: path.to_string(),
            what: what.into(),
            pattern: r.pattern.clone(),
            from: r.from.clone(),
        })
    }

    fn rule_of(&self, from: Option<&Path>) -> Option<&ExcludeRule> {
        let i: usize = from?.to_str()?.parse().ok()?;
        self.rules.get(i)
    }
}

/// Leaves out of the draft every file, directory and volume's data the rules match, and returns
/// what was left out. A volume itself stays (the app needs its mount point); when its top is
/// excluded it is not populated, and what it holds that matches is listed here and skipped by
/// build's copy.
pub(super) fn apply(ex: &Excludes, host: &dyn Host, d: &mut Draft) -> Vec<Excluded> {
    if ex.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let is_dir = |p: &str| host.lstat(Path::new(p)).is_ok_and(|m| m.is_dir());
    let files: Vec<(String, Option<Role>)> = d
        .files
        .paths()
        .map(|p| (p.to_string(), d.files.role(p)))
        .collect();
    for (path, role) in files {
        let what = match role {
            Some(r) => format!("file ({})", format!("{r:?}").to_lowercase()),
            None => "file".to_string(),
        };
        if let Some(e) = ex.excluded(&path, is_dir(&path), what) {
            d.files.remove(&path);
            out.push(e);
        }
    }
    d.dirs
        .retain(|dir| match ex.excluded(&dir.path, true, "directory") {
            Some(e) => {
                out.push(e);
                false
            }
            None => true,
        });
    for v in d.volumes.iter_mut().filter(|v| v.populate) {
        if let Some(e) = ex.excluded(&v.path, true, format!("volume data of {}", v.path)) {
            v.populate = false;
            out.push(e);
            continue;
        }
        out.extend(volume_data(ex, host, &v.path));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The topmost paths under a volume the rules match (a directory stands for what it holds).
fn volume_data(ex: &Excludes, host: &dyn Host, volume: &str) -> Vec<Excluded> {
    let Ok(real) = host.real_path(Path::new(volume)) else {
        return Vec::new();
    };
    let mut out: Vec<Excluded> = Vec::new();
    let what = format!("volume data of {volume}");
    host.walk(
        &real,
        usize::MAX,
        &mut |entry| {
            let rel = entry.path.strip_prefix(&real).unwrap_or(Path::new(""));
            if rel.as_os_str().is_empty() {
                return true;
            }
            let path = Path::new(volume).join(rel).to_string_lossy().into_owned();
            let inside_listed = out
                .last()
                .is_some_and(|e| path.starts_with(&format!("{}/", e.path)));
            if !inside_listed {
                out.extend(ex.excluded(&path, entry.file_type.is_dir(), what.clone()));
            }
            true
        },
        &mut |_, _| {},
    );
    out
}

/// One rule per pattern line, blank lines and `#` comments skipped; `from` names the line.
fn parse(name: &str, text: &str) -> Vec<ExcludeRule> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| ExcludeRule {
            pattern: l.trim_end_matches('\r').to_string(),
            from: format!("{name}:{}", i + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excludes(text: &str) -> Excludes {
        Excludes::from_rules(parse(FILE_NAME, text)).unwrap()
    }

    #[test]
    fn gitignore_rules_with_their_lines() {
        let ex = excludes("# logs\n*.log\n\ncache/\n!keep.log\n/srv/app/tmp\n");
        let from = |p: &str, dir: bool| ex.rule_for(p, dir).map(|r| r.from.as_str());
        assert_eq!(from("/srv/app/app.log", false), Some(".liftignore:2"));
        assert_eq!(from("/srv/app/keep.log", false), None, "negation");
        assert_eq!(from("/srv/app/cache", true), Some(".liftignore:4"));
        assert_eq!(
            from("/srv/app/cache/a/b.html", false),
            Some(".liftignore:4")
        );
        assert_eq!(
            from("/srv/app/cache", false),
            None,
            "cache/ is for directories"
        );
        assert_eq!(from("/srv/app/tmp/x", false), Some(".liftignore:6"));
        assert_eq!(from("/other/srv/app/tmp", true), None, "anchored at /");
        assert_eq!(from("/srv/app/index.html", false), None);
        // Inside an excluded directory, a negation does not bring a file back (git's rule).
        assert_eq!(
            from("/srv/app/cache/keep.log", false),
            Some(".liftignore:4")
        );
        assert_eq!(ex.rules[1].pattern, "cache/");
    }

    #[test]
    fn command_line_patterns_come_after_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "*.log\n").unwrap();
        let ex = Excludes::load(dir.path(), &["!debug.log".to_string()]).unwrap();
        assert_eq!(ex.rule_for("/a/debug.log", false), None);
        assert_eq!(
            ex.rule_for("/a/b.log", false).map(|r| r.from.as_str()),
            Some(".liftignore:1")
        );
        let none = Excludes::load(&dir.path().join("absent"), &[]).unwrap();
        assert!(none.is_empty() && none.rule_for("/a/b.log", false).is_none());
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let err = Excludes::from_rules(parse(FILE_NAME, "ok\n[z-a]\n")).unwrap_err();
        assert!(
            err.to_string().starts_with(".liftignore:2: bad pattern"),
            "{err}"
        );
    }
}
