//! The declarative analyzer format: `analyzers/<id>.toml`, knowledge about one application as data.
//!
//! Unknown keys are rejected so a typo in a rule is an error naming the file and key, not a rule
//! that silently never fires.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped when an analyzer written for an older liftkit would be misread.
pub const SPEC_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Analyzer {
    pub schema: u32,
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub detect: Detect,
    /// Named values, each from the first source that yields one. `{name}` in any string below
    /// expands to them (once per value for multi-valued ones).
    #[serde(default)]
    pub vars: BTreeMap<String, Vec<VarSource>>,
    #[serde(default)]
    pub config: Option<ConfigRule>,
    #[serde(default)]
    pub files: Files,
    #[serde(default)]
    pub runtime: Runtime,
    /// Read-only questions asked of the running application at collect time.
    #[serde(default)]
    pub facts: Vec<FactQuery>,
    /// A Rust function for what cannot be data, by its name in `crate::registry`.
    #[serde(default)]
    pub hook: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// Globs matched against the executable path.
    #[serde(default)]
    pub exe: Vec<String>,
    /// Process names (`comm`), for interpreters whose exe says little.
    #[serde(default)]
    pub comm: Vec<String>,
    /// Regexes any of which must match the joined command line, when given.
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// Debian packages that ship the application, for its version and the report.
    #[serde(default)]
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum VarSource {
    /// Regex with a `v` group over the command line joined by spaces.
    Cmdline(String),
    /// An environment variable of the process.
    Env(String),
    /// A fact gathered at collect time, by name.
    Fact(String),
    /// Regex with a `v` group over the printable strings of the executable (compiled-in paths).
    Binary(String),
    /// A value extracted from the application's configuration (see `config.extract`).
    Config(String),
    /// The first of these paths that exists on the host.
    Exists(Vec<String>),
    /// What the analyzer assumes when nothing above gave a value: a template, or several of
    /// which the first that exists on the host is taken (else the first). A guess, and said so
    /// (a finding, a lower fit), unless the configuration was read and does not set the value:
    /// then it is the program's own default.
    Default(Directives),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigRule {
    /// The main configuration file (a template).
    pub entry: String,
    /// A tokenizer of `crate::registry` (`nginx`, `redis`, `apache`, `keyvalue`, `postgresql`);
    /// each follows its includes.
    pub syntax: String,
    /// Directory that relative paths in the configuration are taken against (default: the entry's).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Variable name → directive (or directives) whose first argument gives its values.
    #[serde(default)]
    pub extract: BTreeMap<String, Directives>,
}

/// One name or several (directives, or default templates).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Directives {
    One(String),
    Many(Vec<String>),
}

impl Directives {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Directives::One(s) => vec![s.as_str()],
            Directives::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Path templates (globs allowed) by the role their files play.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Files {
    #[serde(default)]
    pub code: Vec<String>,
    #[serde(default)]
    pub config: Vec<String>,
    /// Served content (document roots): baked into the image.
    #[serde(default)]
    pub content: Vec<String>,
    /// Modules the application loads with dlopen: copied and scanned for their own dependencies.
    #[serde(default)]
    pub libs: Vec<String>,
    /// Never taken, even when evidence names them: a path template (what is under it is left
    /// out too; globs allowed), or `{ path = "…", why = "…" }` to say why in a finding.
    #[serde(default)]
    pub exclude: Vec<Exclude>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Exclude {
    Path(String),
    Because { path: String, why: String },
}

impl Exclude {
    pub fn path(&self) -> &str {
        match self {
            Exclude::Path(p) | Exclude::Because { path: p, .. } => p,
        }
    }

    pub fn why(&self) -> Option<&str> {
        match self {
            Exclude::Path(_) => None,
            Exclude::Because { why, .. } => Some(why),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// The foreground command; default: the process's own command line. A word is a template;
    /// a list of words is an option kept whole when each of its templates has a value and left
    /// out otherwise (`["--port", "{tcp_port}"]`).
    #[serde(default)]
    pub entrypoint: Vec<Word>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Directories holding state that must outlive the container: volumes populated from the host.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Volume template (one of `volumes`) → the populate strategy of `crate::registry` that fills
    /// it instead of a copy of the files (`pg_basebackup`).
    #[serde(default)]
    pub populate: BTreeMap<String, String>,
    /// Directories the application writes but need not keep: tmpfs.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// Log file → `stdout` or `stderr`: replaced by a link so the engine collects the log.
    #[serde(default)]
    pub logs: BTreeMap<String, String>,
    /// Directories that must exist, empty, in the image.
    #[serde(default)]
    pub dirs: Vec<String>,
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// The application's own tool for a consistent copy of its state (`redis-cli SAVE`),
    /// offered when a volume is copied while the application writes it.
    #[serde(default)]
    pub dump: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Word {
    One(String),
    Group(Vec<String>),
}

pub use crate::plan::Probe;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FactQuery {
    pub name: String,
    /// Sent to the application's first listening TCP port on loopback.
    pub send: String,
    /// Regex with a `v` group applied to the answer. An empty value is an answer too: the
    /// application says it has none (redis `config_file:` when it read no file).
    pub regex: String,
    /// Regex that ends the read early: the application refused (`-NOAUTH`, `-ERR`).
    #[serde(default)]
    pub error: Option<String>,
    /// The value is a space-separated list (redis `bind`): one value per word.
    #[serde(default)]
    pub split: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

pub fn parse(path: &Path, text: &str) -> Result<Analyzer, SpecError> {
    let analyzer: Analyzer = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        SpecError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    validate(path, &analyzer)?;
    check_names(path, text)?;
    Ok(analyzer)
}

/// The names an analyzer takes from `crate::registry`, with where they are written.
#[derive(Deserialize)]
struct Names {
    hook: Option<toml::Spanned<String>>,
    config: Option<ConfigNames>,
    #[serde(default)]
    runtime: RuntimeNames,
}

#[derive(Deserialize)]
struct ConfigNames {
    syntax: toml::Spanned<String>,
}

#[derive(Deserialize, Default)]
struct RuntimeNames {
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    populate: BTreeMap<String, toml::Spanned<String>>,
}

/// Every hook, syntax and populate strategy named must be in the registry: an unknown one is
/// an error at its file, line and column, not a rule that silently does nothing.
fn check_names(path: &Path, text: &str) -> Result<(), SpecError> {
    use crate::registry::{self, Kind};
    // The text parsed as an analyzer already: this second, partial read cannot fail.
    let Ok(names) = toml::from_str::<Names>(text) else {
        return Ok(());
    };
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, column) = line_col(text, span.start);
        SpecError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    if let Some(h) = &names.hook {
        if registry::hook(h.get_ref()).is_none() {
            return Err(at(
                h.span(),
                format!("hook: {}", registry::unknown(Kind::Hook, h.get_ref())),
            ));
        }
    }
    if let Some(s) = names.config.as_ref().map(|c| &c.syntax) {
        if registry::syntax(s.get_ref()).is_none() {
            return Err(at(
                s.span(),
                format!(
                    "config.syntax: {}",
                    registry::unknown(Kind::Syntax, s.get_ref())
                ),
            ));
        }
    }
    for (volume, strategy) in &names.runtime.populate {
        if registry::strategy(strategy.get_ref()).is_none() {
            return Err(at(
                strategy.span(),
                format!(
                    "runtime.populate: {}",
                    registry::unknown(Kind::Strategy, strategy.get_ref())
                ),
            ));
        }
        if !names.runtime.volumes.contains(volume) {
            return Err(at(
                strategy.span(),
                format!("runtime.populate: {volume:?} is not one of runtime.volumes"),
            ));
        }
    }
    Ok(())
}

fn validate(path: &Path, a: &Analyzer) -> Result<(), SpecError> {
    let invalid = |message: String| SpecError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if a.schema != SPEC_SCHEMA {
        return Err(invalid(format!(
            "schema {} is not supported (this liftkit reads schema {SPEC_SCHEMA})",
            a.schema
        )));
    }
    for glob in &a.detect.exe {
        globset::Glob::new(glob).map_err(|e| invalid(format!("detect.exe: {e}")))?;
    }
    let regexes = a
        .detect
        .cmdline
        .iter()
        .map(|r| ("detect.cmdline", r))
        .chain(a.vars.iter().flat_map(|(name, sources)| {
            sources.iter().filter_map(move |s| match s {
                VarSource::Cmdline(r) | VarSource::Binary(r) => Some((name.as_str(), r)),
                _ => None,
            })
        }))
        .chain(a.facts.iter().map(|f| ("facts.regex", &f.regex)))
        .chain(
            a.facts
                .iter()
                .filter_map(|f| f.error.as_ref().map(|e| ("facts.error", e))),
        )
        .chain(
            a.runtime
                .probes
                .iter()
                .filter_map(|p| p.expect.as_ref().map(|e| ("probes.expect", e))),
        );
    for (key, r) in regexes {
        regex::Regex::new(r).map_err(|e| invalid(format!("{key}: {e}")))?;
    }
    for p in &a.runtime.probes {
        let kinds = [p.http.is_some(), p.tcp.is_some(), p.send.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 || p.send.is_some() != p.expect.is_some() {
            return Err(invalid(
                "runtime.probes: each probe is one of { http = \"GET /\" }, { tcp = true } or { send = \"…\", expect = \"regex\" }".to_string(),
            ));
        }
    }
    for target in a.runtime.logs.values() {
        if target != "stdout" && target != "stderr" {
            return Err(invalid(format!(
                "runtime.logs: {target:?} is neither stdout nor stderr"
            )));
        }
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// Loads every `*.toml` in `dir`, sorted by file name so detection order is stable.
pub fn load_dir(dir: &Path) -> Result<Vec<Analyzer>, SpecError> {
    let io = |source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|source| SpecError::Io {
                path: p.clone(),
                source,
            })?;
            parse(p, &text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "schema = 1\nid = \"x\"\n[detect]\nexe = [\"**/x\"]\nexes = []\n";
        let err = parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("x.toml:5:1:"), "{err}");
        assert!(err.contains("unknown field `exes`"), "{err}");
    }

    #[test]
    fn bad_regex_and_schema_are_rejected() {
        let text = "schema = 1\nid = \"x\"\n[detect]\ncmdline = [\"(\"]\n";
        let err = parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.contains("detect.cmdline"), "{err}");
        let text = "schema = 7\nid = \"x\"\n[detect]\n";
        let err = parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.contains("schema 7 is not supported"), "{err}");
    }
}

impl Analyzer {
    /// The fallback for any ELF service no analyzer knows: everything comes from runtime evidence.
    pub fn generic() -> Analyzer {
        Analyzer {
            schema: SPEC_SCHEMA,
            id: "generic".to_string(),
            description: "any ELF service, lifted from its runtime evidence".to_string(),
            detect: Detect::default(),
            vars: BTreeMap::new(),
            config: None,
            files: Files::default(),
            runtime: Runtime {
                probes: vec![Probe {
                    tcp: Some(true),
                    ..Probe::default()
                }],
                ..Runtime::default()
            },
            facts: Vec::new(),
            hook: Some("vendor-tree".to_string()),
        }
    }
}

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_analyzers.rs"));
}

/// The analyzers shipped in `analyzers/`, compiled in; entries from `extra` (a user's directory)
/// replace built-ins with the same id.
pub fn load_all(extra: Option<&Path>) -> Result<Vec<Analyzer>, SpecError> {
    let mut all: Vec<Analyzer> = builtin::BUILTIN
        .iter()
        .map(|(name, text)| parse(&Path::new("analyzers").join(name), text))
        .collect::<Result<_, _>>()?;
    if let Some(dir) = extra {
        for a in load_dir(dir)? {
            all.retain(|b| b.id != a.id);
            all.push(a);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod builtin_tests {
    #[test]
    fn every_shipped_analyzer_parses() {
        let all = super::load_all(None).unwrap();
        assert!(all.iter().any(|a| a.id == "nginx"));
        assert!(all.iter().any(|a| a.id == "redis"));
    }
}
