//! The image's runtime settings: entrypoint, user, environment, ports, limits and name.

use super::draft::Draft;
use super::group::Candidate;
use super::spec::{Analyzer, Word};
use super::vars::Vars;
use super::{environ, evidence, Inputs};
use crate::findings::Finding;
use crate::plan::{ImageSpec, Owners};
use crate::snapshot::Process;
use std::collections::BTreeMap;
use std::path::Path;

pub fn image_spec(
    inp: &Inputs,
    cand: &Candidate,
    procs: &[&Process],
    analyzer: &Analyzer,
    d: &mut Draft,
) -> ImageSpec {
    let root = procs[0];
    let entrypoint = match d.entrypoint.clone() {
        Some(e) => e,
        None => entrypoint(root, analyzer, &d.vars, &mut d.findings),
    };
    let mut env = environ::split(&root.environ);
    recover_locale(root, &mut env.kept, &mut d.findings);
    for kv in &d.env {
        let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        env.kept.retain(|e| e.split('=').next() != Some(key));
        match super::secrets::scan_env(key, value) {
            Some(kind) => {
                let why = format!("secret: {kind}; passed at run time from secrets/env");
                env.dropped.insert(key.to_string(), why);
            }
            None => env.kept.push(kv.clone()),
        }
    }
    let mut ports: Vec<String> = inp
        .snapshot
        .sockets_of(&cand.pids)
        .filter(|s| s.port != 0)
        .map(|s| format!("{}/{}", s.port, s.proto.trim_end_matches('6')))
        .collect();
    ports.sort();
    ports.dedup();
    let (uid, gid) = (root.uids[1], root.gids[1]);
    let user = inp
        .snapshot
        .user_by_uid(uid)
        .map_or_else(|| uid.to_string(), |u| u.name.clone());
    let workdir = d
        .workdir
        .clone()
        .or_else(|| root.cwd.clone())
        .filter(|c| inp.host.stat(Path::new(c)).is_ok_and(|m| m.is_dir()))
        .unwrap_or_else(|| "/".to_string());
    let mut rlimits = root
        .limits
        .get("Max open files")
        .and_then(|(soft, hard)| Some((soft.as_ref().copied()?, hard.as_ref().copied()?)))
        .map(|nofile| BTreeMap::from([("nofile".to_string(), nofile)]))
        .unwrap_or_default();
    rlimits.extend(d.rlimits.clone());
    ImageSpec {
        name: image_name(&cand.name, &version(inp, root, analyzer)),
        entrypoint,
        cmd: Vec::new(),
        user,
        uid,
        gid,
        workdir,
        env: env.kept,
        env_dropped: env.dropped,
        ports,
        listen: cand.listen.clone(),
        stop_signal: d.stop_signal.clone(),
        owners: Owners::Keep,
        network: "host".to_string(),
        restart: Some(
            d.restart
                .clone()
                .unwrap_or_else(|| "on-failure".to_string()),
        ),
        rlimits,
        // The hardening section holds the capabilities, with their evidence (crate::harden).
        capabilities: Vec::new(),
        supervisor: true,
    }
}

/// A process that rewrote its title lost its environment block; the locale it mapped shows the
/// LANG it ran with, which the image should keep.
fn recover_locale(root: &Process, env: &mut Vec<String>, findings: &mut Vec<Finding>) {
    if env
        .iter()
        .any(|kv| kv.starts_with("LANG=") || kv.starts_with("LC_ALL="))
    {
        return;
    }
    if let Some(locale) = evidence::mapped_locales(root).into_iter().next() {
        env.push(format!("LANG={locale}"));
        findings.push(Finding::info(
            format!("pid {}", root.pid),
            format!("LANG={locale} guessed from the locale files the process has mapped (its environment was not readable)"),
        ));
    }
}

fn entrypoint(
    root: &Process,
    a: &Analyzer,
    vars: &Vars,
    findings: &mut Vec<Finding>,
) -> Vec<String> {
    if !a.runtime.entrypoint.is_empty() {
        let expanded = expand_entrypoint(&a.runtime.entrypoint, vars);
        if let Some(e) = expanded {
            return e;
        }
        findings.push(Finding::warning(
            format!("analyzer {}", a.id),
            "its entrypoint names a value that was not found; the process's command line is used",
        ));
    }
    let mut cmd = trimmed_cmdline(root);
    if let (Some(first), Some(exe)) = (cmd.first_mut(), &root.exe) {
        if !first.starts_with('/') {
            *first = exe.clone();
        }
    }
    if a.id == "generic" {
        findings.push(Finding::info(
            format!("pid {}", root.pid),
            "entrypoint is the process's own command line: if the program detaches into the \
             background, add its foreground flag in the plan",
        ));
    }
    cmd
}

/// The analyzer's entrypoint with its templates filled in; `None` when a lone word names a
/// value that was not found. An option group without all its values is left out.
fn expand_entrypoint(words: &[Word], vars: &Vars) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for w in words {
        match w {
            Word::One(t) => {
                let v = vars.expand(t);
                if v.is_empty() {
                    return None;
                }
                out.extend(v);
            }
            Word::Group(group) => {
                let parts: Vec<Vec<String>> = group.iter().map(|t| vars.expand(t)).collect();
                if parts.iter().all(|p| !p.is_empty()) {
                    out.extend(parts.into_iter().flatten());
                }
            }
        }
    }
    Some(out)
}

fn image_name(app: &str, version: &str) -> String {
    // A Debian epoch (`5:`) is packaging bookkeeping, not part of the version people know.
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    let tag: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let tag = if tag.is_empty() {
        "latest".to_string()
    } else {
        tag
    };
    format!("localhost/liftkit/{app}:{tag}")
}

/// The version of the package that ships the executable (the analyzer's packages first).
pub fn version(inp: &Inputs, root: &Process, a: &Analyzer) -> String {
    let from_detect = a
        .detect
        .packages
        .iter()
        .find_map(|name| inp.snapshot.package(name));
    let from_exe = || {
        root.exe
            .as_deref()
            .and_then(|e| inp.packages.owner(e))
            .and_then(|name| inp.snapshot.package(&name))
    };
    from_detect
        .or_else(from_exe)
        .map(|p| p.version.clone())
        .unwrap_or_default()
}

/// The command line without the empty padding a rewritten process title leaves behind.
pub fn trimmed_cmdline(p: &Process) -> Vec<String> {
    let mut c = p.cmdline.clone();
    while c.last().is_some_and(String::is_empty) {
        c.pop();
    }
    c
}
