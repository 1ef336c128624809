//! The analyzer's declarative rules applied to one application: its configuration, the files
//! it names by role, volumes, tmpfs, log links and directories.

use super::draft::Draft;
use super::fileset::FileSet;
use super::spec::Analyzer;
use super::syntax::{self, ConfigRead};
use super::vars::{self, Context, Vars};
use super::Inputs;
use crate::findings::Finding;
use crate::host::normalize;
use crate::plan::{Link, Role, Volume, VolumeKind};
use std::path::Path;

/// Adds everything the analyzer's rules name to the draft.
pub fn apply(inp: &Inputs, a: &Analyzer, base: &str, config: Option<&ConfigRead>, d: &mut Draft) {
    let paths = |template: &str| -> Vec<String> {
        d.vars
            .expand(template)
            .into_iter()
            .map(|p| absolutize(&p, base))
            .collect()
    };
    let mut files = std::mem::take(&mut d.files);
    let mut elf = std::mem::take(&mut d.elf_objects);
    add_analyzer_files(inp, a, &paths, &mut files, &mut elf);
    if let Some(config) = config {
        for f in &config.files {
            files.add(
                &f.to_string_lossy(),
                Role::Config,
                format!("analyzer {}: configuration", a.id),
            );
        }
        for p in &config.problems {
            d.findings
                .push(Finding::warning(format!("analyzer {}", a.id), p.clone()));
        }
    }
    exclude(inp, a, &paths, &mut files, &mut elf, &mut d.findings);
    let dirs: Vec<String> = a.runtime.dirs.iter().flat_map(|t| paths(t)).collect();
    let new_volumes = volumes(a, &paths);
    let new_links = log_links(a, &d.vars, base);
    d.files = files;
    d.elf_objects = elf;
    for v in new_volumes {
        d.add_volume(v);
    }
    for dir in dirs {
        d.add_dir(dir, format!("analyzer {}: must exist", a.id));
    }
    for l in new_links {
        if let Some(parent) = Path::new(&l.path).parent() {
            d.add_dir(parent.to_string_lossy(), format!("holds {}", l.path));
        }
        d.links.push(l);
    }
    if let Some(s) = &a.runtime.stop_signal {
        d.stop_signal.get_or_insert_with(|| s.clone());
    }
}

pub fn read_config(
    cx: &Context,
    vars: &mut Vars,
    findings: &mut Vec<Finding>,
) -> Option<ConfigRead> {
    let rule = cx.analyzer.config.as_ref()?;
    let Some(entry) = vars.expand_one(&rule.entry) else {
        if let Some(why) = entry_var(&rule.entry).and_then(|v| vars.none_because(v)) {
            findings.push(Finding::info(
                format!("analyzer {}", cx.analyzer.id),
                format!("no configuration file: {why}; its settings are taken from the server"),
            ));
            return None;
        }
        findings.push(Finding::warning(
            format!("analyzer {}", cx.analyzer.id),
            format!("no configuration file: {} names no value", rule.entry),
        ));
        return None;
    };
    // A relative entry is taken against the prefix, as nginx (-p) and Apache (-d) take it.
    let prefix = rule
        .prefix
        .as_deref()
        .and_then(|p| vars.expand_one(p))
        .map(|p| absolutize(&p, vars.first("cwd").unwrap_or("/")));
    let entry_base = prefix
        .as_deref()
        .or_else(|| vars.first("cwd"))
        .unwrap_or("/");
    let entry = absolutize(&entry, entry_base);
    let opts = syntax::ReadOptions {
        env: &cx.process.environ,
        prefix: prefix.as_deref().map(Path::new),
    };
    let read = syntax::read_with(cx.host, &rule.syntax, Path::new(&entry), opts);
    if read.files.is_empty() {
        findings.push(Finding::warning(
            &entry,
            "configuration file could not be read; its rules were not applied",
        ));
    }
    // Absolute now; a guessed entry stays a guess.
    let origin = entry_var(&rule.entry).and_then(|v| vars.origin(v)).cloned();
    match origin {
        Some(o) => vars.set_origin("conf", vec![entry.clone()], o),
        None => vars.set("conf", vec![entry.clone()], "configuration entry"),
    }
    for (name, directives) in &rule.extract {
        if vars.get(name).is_empty() {
            let values = read.values(&directives.names());
            vars.set(
                name,
                values,
                &format!("{entry}: {}", directives.names().join("/")),
            );
        }
    }
    vars::evaluate(cx, vars, Some(&read));
    Some(read)
}

/// The variable a `{name}` template is made of, when it is nothing else.
fn entry_var(template: &str) -> Option<&str> {
    template
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .filter(|t| !t.contains(['{', '}']))
}

/// The directory relative paths in the configuration are taken against.
pub fn config_base(cx: &Context, vars: &Vars) -> String {
    let from_rule = cx
        .analyzer
        .config
        .as_ref()
        .and_then(|c| c.prefix.as_deref())
        .and_then(|p| vars.expand_one(p));
    from_rule
        .or_else(|| {
            vars.first("conf")
                .and_then(|c| Path::new(c).parent())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .or_else(|| vars.first("cwd").map(str::to_string))
        .unwrap_or_else(|| "/".to_string())
}

pub fn absolutize(path: &str, base: &str) -> String {
    let joined = Path::new(base).join(path);
    normalize(&joined).to_string_lossy().into_owned()
}

fn add_analyzer_files(
    inp: &Inputs,
    a: &Analyzer,
    paths: &dyn Fn(&str) -> Vec<String>,
    files: &mut FileSet,
    elf_objects: &mut Vec<String>,
) {
    let groups = [
        (&a.files.code, Role::Code, "code"),
        (&a.files.config, Role::Config, "config"),
        (&a.files.content, Role::Code, "content"),
        (&a.files.libs, Role::Code, "module"),
    ];
    for (templates, role, label) in groups {
        for t in templates {
            for pattern in paths(t) {
                for found in super::glob::expand(inp.host, &pattern) {
                    let found = found.to_string_lossy().into_owned();
                    files.add(&found, role, format!("analyzer {}: {label} ({t})", a.id));
                    if label == "module" {
                        elf_objects.push(found);
                    }
                }
            }
        }
    }
}

/// `files.exclude`: what is under each path is left out, and not scanned for ELF dependencies
/// (a left-out module must not bring its libraries); a glob is matched against the host, and a
/// rule with a `why` says it of each path it leaves out.
fn exclude(
    inp: &Inputs,
    a: &Analyzer,
    paths: &dyn Fn(&str) -> Vec<String>,
    files: &mut FileSet,
    elf_objects: &mut Vec<String>,
    findings: &mut Vec<Finding>,
) {
    for rule in &a.files.exclude {
        for pattern in paths(rule.path()) {
            let matched: Vec<String> = if pattern.contains(['*', '?', '[']) {
                super::glob::expand(inp.host, &pattern)
                    .into_iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect()
            } else {
                vec![pattern]
            };
            for p in matched {
                let gone = files.remove_under(&p);
                let under = format!("{}/", p.trim_end_matches('/'));
                elf_objects.retain(|o| *o != p && !o.starts_with(&under));
                if let Some(why) = rule.why().filter(|_| !gone.is_empty()) {
                    findings.push(Finding::info(&p, why));
                }
            }
        }
    }
}

fn volumes(a: &Analyzer, paths: &dyn Fn(&str) -> Vec<String>) -> Vec<Volume> {
    let mut out: Vec<Volume> = Vec::new();
    for t in &a.runtime.volumes {
        let strategy = a
            .runtime
            .populate
            .get(t)
            .and_then(|name| crate::registry::strategy(name));
        for path in paths(t) {
            out.push(Volume {
                path,
                kind: VolumeKind::Volume,
                populate: true,
                populate_with: strategy.map(|s| s.name.to_string()),
                live_writes: None,
                scratch: false,
                why: match strategy {
                    Some(s) => format!(
                        "analyzer {}: state ({t}), filled by {}: {}",
                        a.id, s.name, s.what
                    ),
                    None => format!("analyzer {}: state ({t}), copied from the host", a.id),
                },
            });
        }
    }
    for t in &a.runtime.tmpfs {
        for path in paths(t) {
            out.push(Volume {
                path,
                kind: VolumeKind::Tmpfs,
                populate: false,
                populate_with: None,
                live_writes: None,
                scratch: false,
                why: format!("analyzer {}: written at run time, not kept ({t})", a.id),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

fn log_links(a: &Analyzer, vars: &Vars, base: &str) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    for (template, stream) in &a.runtime.logs {
        for path in vars.expand(template) {
            // nginx's `access_log off` and redis's `logfile ""` name no file.
            // Apache's `|rotatelogs …` pipes to a program, not a file.
            if path.is_empty()
                || path.starts_with('|')
                || ["off", "stderr", "stdout"].contains(&path.as_str())
                || path.starts_with("syslog:")
                || path.starts_with("/dev/")
            {
                continue;
            }
            out.push(Link {
                path: absolutize(&path, base),
                target: format!("/dev/{stream}"),
                why: format!(
                    "analyzer {}: log sent to {stream} for the engine to collect",
                    a.id
                ),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}
