//! Analyzer variables: named values with the source each came from, and `{name}` templates.

use super::spec::{Analyzer, VarSource};
use super::syntax::ConfigRead;
use crate::host::Host;
use crate::snapshot::{Process, Snapshot};
use std::collections::BTreeMap;
use std::path::Path;

/// Bytes of an executable searched for compiled-in strings.
const MAX_BINARY_SCAN: u64 = 64 << 20;

#[derive(Debug, Default, Clone)]
pub struct Vars {
    values: BTreeMap<String, Vec<String>>,
    origins: BTreeMap<String, Origin>,
}

/// Where a variable's value came from: what the host showed, or what the analyzer assumed.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The command line, environment, a live answer, the binary, the configuration, a file.
    Evidence(String),
    /// The analyzer's default where the configuration was read and does not set the value:
    /// the program's own default applies.
    ProgramDefault(String),
    /// The analyzer's default with nothing on the host to back it.
    Guess(String),
}

pub struct Context<'a> {
    pub host: &'a dyn Host,
    pub snapshot: &'a Snapshot,
    pub process: &'a Process,
    pub analyzer: &'a Analyzer,
}

impl Vars {
    /// Sets a variable from evidence unless `values` is empty.
    pub fn set(&mut self, name: &str, values: Vec<String>, source: &str) {
        self.set_with(name, values, Origin::Evidence(source.to_string()));
    }

    /// Sets a variable with the origin of the value it was made from.
    pub fn set_origin(&mut self, name: &str, values: Vec<String>, origin: Origin) {
        self.set_with(name, values, origin);
    }

    fn set_with(&mut self, name: &str, values: Vec<String>, origin: Origin) {
        if !values.is_empty() {
            self.values.insert(name.to_string(), values);
            self.origins.insert(name.to_string(), origin);
        }
    }

    /// Records that the host says there is no value (redis reports no configuration file):
    /// later sources are not tried, and templates naming it yield nothing.
    pub fn set_none(&mut self, name: &str, source: &str) {
        self.values.insert(name.to_string(), Vec::new());
        self.origins
            .insert(name.to_string(), Origin::Evidence(source.to_string()));
    }

    /// Why `name` has no value, when the host said so.
    pub fn none_because(&self, name: &str) -> Option<&str> {
        match (self.values.get(name), self.origins.get(name)) {
            (Some(v), Some(Origin::Evidence(why))) if v.is_empty() => Some(why),
            _ => None,
        }
    }

    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.origins.get(name)
    }

    /// Variables whose values the analyzer assumed: (name, values, what was assumed).
    pub fn guesses(&self) -> impl Iterator<Item = (&str, &[String], &str)> {
        self.origins.iter().filter_map(|(name, o)| match o {
            Origin::Guess(why) => Some((name.as_str(), self.get(name), why.as_str())),
            _ => None,
        })
    }

    pub fn get(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().map(String::as_str)
    }

    /// Expands `{name}` references; a template naming a variable without values yields nothing,
    /// so `{docroots}/**` simply adds no files when the config has no `root`.
    pub fn expand(&self, template: &str) -> Vec<String> {
        let Some(start) = template.find('{') else {
            return vec![template.to_string()];
        };
        let Some(len) = template[start..].find('}') else {
            return vec![template.to_string()];
        };
        let name = &template[start + 1..start + len];
        let rest = &template[start + len + 1..];
        let head = &template[..start];
        self.get(name)
            .iter()
            .flat_map(|v| {
                self.expand(rest)
                    .into_iter()
                    .map(move |tail| format!("{head}{v}{tail}"))
            })
            .collect()
    }

    pub fn expand_one(&self, template: &str) -> Option<String> {
        self.expand(template).into_iter().next()
    }
}

/// Values every analyzer may use without declaring them.
pub fn builtins(cx: &Context) -> Vars {
    let mut vars = Vars::default();
    let p = cx.process;
    if let Some(exe) = &p.exe {
        vars.set("exe", vec![exe.clone()], "/proc/PID/exe");
    }
    vars.set("pid", vec![p.pid.to_string()], "process");
    if let Some(cwd) = &p.cwd {
        vars.set("cwd", vec![cwd.clone()], "/proc/PID/cwd");
    }
    let ports: Vec<String> = cx
        .snapshot
        .sockets_of(std::slice::from_ref(&p.pid))
        .map(|s| s.port.to_string())
        .collect();
    vars.set(
        "port",
        ports.into_iter().take(1).collect(),
        "listening socket",
    );
    vars
}

/// Evaluates the analyzer's variables in two passes: those that need the configuration wait for
/// it, since the configuration's own path is usually a variable.
pub fn evaluate(cx: &Context, vars: &mut Vars, config: Option<&ConfigRead>) {
    for (name, sources) in &cx.analyzer.vars {
        if vars.values.contains_key(name) {
            continue;
        }
        for (i, source) in sources.iter().enumerate() {
            if matches!(source, VarSource::Config(_)) && config.is_none() {
                break;
            }
            let found = match source {
                VarSource::Default(templates) => {
                    let config_says_nothing = config.is_some_and(|c| !c.files.is_empty())
                        && sources[..i]
                            .iter()
                            .any(|s| matches!(s, VarSource::Config(_)));
                    default_value(cx, vars, &templates.names(), config_says_nothing)
                }
                _ => try_source(cx, vars, config, source)
                    .map(|(v, from)| (v, Origin::Evidence(from))),
            };
            if let Some((values, origin)) = found {
                if values.is_empty() {
                    if let Origin::Evidence(why) = &origin {
                        vars.set_none(name, why);
                    }
                } else {
                    vars.set_with(name, values, origin);
                }
                break;
            }
        }
    }
}

/// An analyzer's default: the first template that names an existing path, else the first.
fn default_value(
    cx: &Context,
    vars: &Vars,
    templates: &[&str],
    config_says_nothing: bool,
) -> Option<(Vec<String>, Origin)> {
    let candidates: Vec<String> = templates
        .iter()
        .filter_map(|t| vars.expand_one(t))
        .collect();
    let value = candidates
        .iter()
        .find(|p| p.starts_with('/') && cx.host.exists(Path::new(p)))
        .or(candidates.first())?
        .clone();
    let origin = if config_says_nothing {
        Origin::ProgramDefault("the program's default: its configuration does not set it".into())
    } else {
        Origin::Guess(format!(
            "the analyzer's default ({})",
            templates.join(" or ")
        ))
    };
    Some((vec![value], origin))
}

fn try_source(
    cx: &Context,
    vars: &Vars,
    config: Option<&ConfigRead>,
    source: &VarSource,
) -> Option<(Vec<String>, String)> {
    let p = cx.process;
    match source {
        VarSource::Cmdline(re) => {
            let joined = p.cmdline.join(" ");
            capture(re, &joined).map(|v| (vec![v], "command line".into()))
        }
        VarSource::Env(key) => p
            .env(key)
            .map(|v| (vec![v.to_string()], format!("environment {key}"))),
        VarSource::Fact(name) => {
            let fact = cx
                .snapshot
                .facts
                .iter()
                .find(|f| f.pid == p.pid && f.analyzer == cx.analyzer.id && f.name == *name)?;
            let split = cx.analyzer.facts.iter().any(|q| q.name == *name && q.split);
            let values: Vec<String> = if split {
                fact.value.split_whitespace().map(str::to_string).collect()
            } else if fact.value.trim().is_empty() {
                Vec::new()
            } else {
                vec![fact.value.clone()]
            };
            let from = if values.is_empty() {
                format!("the running server answers none (live query {name})")
            } else {
                format!("the running server (live query {name})")
            };
            Some((values, from))
        }
        VarSource::Binary(re) => {
            let exe = p.exe.as_deref()?;
            let bytes = cx.host.read_limited(Path::new(exe), MAX_BINARY_SCAN).ok()?;
            let re = regex::Regex::new(re).ok()?;
            let found = printable_runs(&bytes).find_map(|s| capture_with(&re, s));
            found.map(|v| (vec![v], format!("compiled into {exe}")))
        }
        VarSource::Config(key) => {
            let config = config?;
            let names: Vec<&str> = cx
                .analyzer
                .config
                .as_ref()?
                .extract
                .get(key)
                .map(|d| d.names())
                .unwrap_or_else(|| vec![key.as_str()]);
            let values = config.values(&names);
            (!values.is_empty()).then(|| (values, format!("configuration directive {key}")))
        }
        VarSource::Exists(paths) => paths
            .iter()
            .flat_map(|t| vars.expand(t))
            .find(|p| cx.host.exists(Path::new(p)))
            .map(|p| (vec![p], "first existing path".into())),
        // Taken in `evaluate`, which knows what the configuration said.
        VarSource::Default(_) => None,
    }
}

fn capture(re: &str, text: &str) -> Option<String> {
    capture_with(&regex::Regex::new(re).ok()?, text)
}

fn capture_with(re: &regex::Regex, text: &str) -> Option<String> {
    let caps = re.captures(text)?;
    caps.name("v")
        .or_else(|| caps.get(1))
        .map(|m| m.as_str().to_string())
}

/// Runs of printable ASCII of at least 4 bytes, as `strings` finds them.
pub(super) fn printable_runs(bytes: &[u8]) -> impl Iterator<Item = &str> {
    bytes
        .split(|b| !(0x20..0x7f).contains(b))
        .filter(|run| run.len() >= 4)
        .filter_map(|run| std::str::from_utf8(run).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_once_per_value_and_vanish_without_values() {
        let mut v = Vars::default();
        v.set("roots", vec!["/a".into(), "/b".into()], "test");
        v.set("conf", vec!["/etc/x.conf".into()], "test");
        assert_eq!(v.expand("{roots}/**"), vec!["/a/**", "/b/**"]);
        assert_eq!(v.expand("-c {conf}"), vec!["-c /etc/x.conf"]);
        assert!(v.expand("{missing}/x").is_empty());
        assert_eq!(v.expand("plain"), vec!["plain"]);
    }
}
