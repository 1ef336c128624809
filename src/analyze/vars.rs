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
}

pub struct Context<'a> {
    pub host: &'a dyn Host,
    pub snapshot: &'a Snapshot,
    pub process: &'a Process,
    pub analyzer: &'a Analyzer,
}

impl Vars {
    /// Sets a variable unless `values` is empty; `_source` documents where it came from at the
    /// call site.
    pub fn set(&mut self, name: &str, values: Vec<String>, _source: &str) {
        if !values.is_empty() {
            self.values.insert(name.to_string(), values);
        }
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
        for source in sources {
            if matches!(source, VarSource::Config(_)) && config.is_none() {
                break;
            }
            if let Some((values, from)) = try_source(cx, vars, config, source) {
                vars.set(name, values, &from);
                break;
            }
        }
    }
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
        VarSource::Fact(name) => cx
            .snapshot
            .facts
            .iter()
            .find(|f| f.pid == p.pid && f.analyzer == cx.analyzer.id && f.name == *name)
            .map(|f| (vec![f.value.clone()], format!("live query {name}"))),
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
        VarSource::Default(t) => vars
            .expand_one(t)
            .map(|v| (vec![v], "analyzer default".into())),
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
