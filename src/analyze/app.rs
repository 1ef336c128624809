//! Analysis of one application: from its processes and the host's files to an `AppPlan`.

use super::fileset::{is_copyable, FileSet};
use super::group::Candidate;
use super::spec::Analyzer;
use super::syntax::{self, ConfigRead};
use super::vars::{self, Context, Vars};
use super::{environ, evidence, users, Inputs};
use crate::elf::LoaderEnv;
use crate::findings::Finding;
use crate::host::normalize;
use crate::plan::{
    AppPlan, DirEntry, Fit, ImageSpec, Link, Owners, ProcessInfo, Role, Volume, VolumeKind,
};
use crate::snapshot::Process;
use std::collections::BTreeMap;
use std::path::Path;

pub fn analyze(inp: &Inputs, cand: &Candidate) -> AppPlan {
    let procs: Vec<&Process> = cand
        .pids
        .iter()
        .filter_map(|&pid| inp.snapshot.process(pid))
        .collect();
    let root = procs[0];
    let generic = Analyzer::generic();
    let analyzer = cand
        .analyzer
        .as_deref()
        .and_then(|id| inp.analyzers.iter().find(|a| a.id == id))
        .unwrap_or(&generic);
    let cx = Context {
        host: inp.host,
        snapshot: inp.snapshot,
        process: root,
        analyzer,
    };
    let mut findings = Vec::new();
    let mut vars = vars::builtins(&cx);
    vars::evaluate(&cx, &mut vars, None);
    let config = read_config(&cx, &mut vars, &mut findings);
    let base = config_base(&cx, &vars);
    let paths = |template: &str| -> Vec<String> {
        vars.expand(template)
            .into_iter()
            .map(|p| absolutize(&p, &base))
            .collect()
    };

    let mut files = FileSet::default();
    let env = LoaderEnv {
        ld_library_path: root.env("LD_LIBRARY_PATH").map(str::to_string),
        ld_preload: root.env("LD_PRELOAD").map(str::to_string),
    };
    let mut elf_objects: Vec<String> = Vec::new();
    if let Some(exe) = &root.exe {
        files.add(exe, Role::Code, format!("executable of pid {}", root.pid));
        elf_objects.push(exe.clone());
    } else {
        findings.push(Finding::error(
            format!("pid {}", root.pid),
            "its executable could not be read: the image has no entrypoint binary",
        ));
    }
    for p in &procs {
        if p.exe != root.exe {
            if let Some(exe) = &p.exe {
                files.add(exe, Role::Code, format!("executable of pid {}", p.pid));
                elf_objects.push(exe.clone());
            }
        }
        for m in p.maps.iter().filter(|m| is_copyable(m)) {
            if inp.host.stat(Path::new(m)).is_ok_and(|s| s.is_file()) {
                files.add(m, Role::Code, format!("mapped by pid {}", p.pid));
                elf_objects.push(m.clone());
            }
        }
        for problem in &p.unreadable {
            findings.push(Finding::warning(format!("pid {}", p.pid), problem.clone()));
        }
    }
    add_analyzer_files(inp, analyzer, &paths, &mut files, &mut elf_objects);
    if let Some(config) = &config {
        for f in &config.files {
            let f = f.to_string_lossy();
            files.add(
                &f,
                Role::Config,
                format!("analyzer {}: configuration", analyzer.id),
            );
        }
    }
    let volumes = volumes(analyzer, &paths);
    let log_links = log_links(analyzer, &vars, &base);
    add_open_files(inp, &procs, &volumes, &log_links, &mut files);
    evidence::add_system_files(inp, root, &mut files, &mut elf_objects);
    evidence::add_elf_closure(inp, &elf_objects, &env, &mut files, &mut findings);

    for pattern in &analyzer.files.exclude {
        for p in paths(pattern) {
            files.remove_under(&p);
        }
    }
    for v in &volumes {
        files.remove_under(&v.path);
    }
    for l in &log_links {
        files.remove(&l.path);
    }
    let mut dirs: Vec<DirEntry> = analyzer
        .runtime
        .dirs
        .iter()
        .flat_map(|d| paths(d))
        .map(|path| DirEntry {
            path,
            why: format!("analyzer {}: must exist", analyzer.id),
        })
        .collect();
    for l in &log_links {
        if let Some(parent) = Path::new(&l.path).parent() {
            dirs.push(DirEntry {
                path: parent.to_string_lossy().into_owned(),
                why: format!("holds {}", l.path),
            });
        }
    }
    let account = users::accounts(inp.snapshot, &procs, &vars);
    let generated = users::generated_files(&account);
    let image = image_spec(inp, cand, root, &procs, analyzer, &vars, &mut findings);
    if image.workdir != "/" {
        dirs.push(DirEntry {
            path: image.workdir.clone(),
            why: format!("working directory of pid {}", root.pid),
        });
    }
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    dirs.dedup_by(|a, b| a.path == b.path);
    if let Some(c) = &config {
        for p in &c.problems {
            findings.push(Finding::warning(
                format!("analyzer {}", analyzer.id),
                p.clone(),
            ));
        }
    }
    let (fit, fit_reasons) = fit(analyzer, root, &findings);
    let version = version(inp, root, analyzer);
    AppPlan {
        name: cand.name.clone(),
        analyzer: analyzer.id.clone(),
        version,
        fit,
        fit_reasons,
        processes: procs
            .iter()
            .map(|p| ProcessInfo {
                pid: p.pid,
                user: inp
                    .snapshot
                    .user_by_uid(p.uids[1])
                    .map_or_else(|| p.uids[1].to_string(), |u| u.name.clone()),
                cmdline: trimmed_cmdline(p),
            })
            .collect(),
        unit: root.unit.clone(),
        image,
        files: files.into_entries(|p| inp.packages.owner(p)),
        generated,
        links: log_links,
        dirs,
        volumes,
        secrets: Vec::new(),
        connections: Vec::new(),
        probes: analyzer.runtime.probes.clone(),
        findings,
        packages: Vec::new(),
    }
}

/// The command line without the empty padding a rewritten process title leaves behind.
fn trimmed_cmdline(p: &Process) -> Vec<String> {
    let mut c = p.cmdline.clone();
    while c.last().is_some_and(String::is_empty) {
        c.pop();
    }
    c
}

fn read_config(cx: &Context, vars: &mut Vars, findings: &mut Vec<Finding>) -> Option<ConfigRead> {
    let rule = cx.analyzer.config.as_ref()?;
    let Some(entry) = vars.expand_one(&rule.entry) else {
        findings.push(Finding::warning(
            format!("analyzer {}", cx.analyzer.id),
            format!("no configuration file: {} names no value", rule.entry),
        ));
        return None;
    };
    let entry = absolutize(&entry, vars.first("cwd").unwrap_or("/"));
    let read = syntax::read(cx.host, &rule.syntax, Path::new(&entry));
    if read.files.is_empty() {
        findings.push(Finding::warning(
            &entry,
            "configuration file could not be read; its rules were not applied",
        ));
    }
    vars.set("conf", vec![entry.clone()], "configuration entry");
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

/// The directory relative paths in the configuration are taken against.
fn config_base(cx: &Context, vars: &Vars) -> String {
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

fn absolutize(path: &str, base: &str) -> String {
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

fn volumes(a: &Analyzer, paths: &dyn Fn(&str) -> Vec<String>) -> Vec<Volume> {
    let mut out: Vec<Volume> = Vec::new();
    for t in &a.runtime.volumes {
        for path in paths(t) {
            out.push(Volume {
                path,
                kind: VolumeKind::Volume,
                populate: true,
                why: format!("analyzer {}: state ({t}), copied from the host", a.id),
            });
        }
    }
    for t in &a.runtime.tmpfs {
        for path in paths(t) {
            out.push(Volume {
                path,
                kind: VolumeKind::Tmpfs,
                populate: false,
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
            if path.is_empty()
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

/// Files the processes hold open: configuration they keep reading, logs they write, state.
fn add_open_files(
    inp: &Inputs,
    procs: &[&Process],
    volumes: &[Volume],
    logs: &[Link],
    files: &mut FileSet,
) {
    for p in procs {
        for fd in &p.fds {
            let path = fd.target.as_str();
            if !is_copyable(path)
                || volumes
                    .iter()
                    .any(|v| path.starts_with(&format!("{}/", v.path)))
                || logs.iter().any(|l| l.path == path)
            {
                continue;
            }
            if !inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let role = if path.starts_with("/var/log/") || path.ends_with(".log") {
                Role::Log
            } else if ["/var/lib/", "/srv/", "/var/spool/", "/var/cache/"]
                .iter()
                .any(|d| path.starts_with(d))
            {
                Role::State
            } else {
                Role::Config
            };
            files.add(path, role, format!("open by pid {} (fd {})", p.pid, fd.fd));
        }
    }
}

fn image_spec(
    inp: &Inputs,
    cand: &Candidate,
    root: &Process,
    procs: &[&Process],
    analyzer: &Analyzer,
    vars: &Vars,
    findings: &mut Vec<Finding>,
) -> ImageSpec {
    let entrypoint = entrypoint(root, analyzer, vars, findings);
    let mut env = environ::split(&root.environ);
    recover_locale(root, &mut env.kept, findings);
    let mut ports: Vec<String> = inp
        .snapshot
        .sockets_of(&cand.pids)
        .map(|s| format!("{}/{}", s.port, s.proto.trim_end_matches('6')))
        .collect();
    ports.sort();
    ports.dedup();
    let uid = root.uids[1];
    let gid = root.gids[1];
    let user = inp
        .snapshot
        .user_by_uid(uid)
        .map_or_else(|| uid.to_string(), |u| u.name.clone());
    let workdir = root
        .cwd
        .clone()
        .filter(|c| inp.host.stat(Path::new(c)).is_ok_and(|m| m.is_dir()))
        .unwrap_or_else(|| "/".to_string());
    let rlimits = root
        .limits
        .get("Max open files")
        .and_then(|(soft, hard)| Some((soft.as_ref().copied()?, hard.as_ref().copied()?)))
        .map(|nofile| BTreeMap::from([("nofile".to_string(), nofile)]))
        .unwrap_or_default();
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
        stop_signal: analyzer.runtime.stop_signal.clone(),
        owners: Owners::Keep,
        network: "host".to_string(),
        restart: Some("on-failure".to_string()),
        rlimits,
        capabilities: capabilities(inp, cand, procs),
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
        let expanded: Option<Vec<String>> = a
            .runtime
            .entrypoint
            .iter()
            .map(|t| {
                let v = vars.expand(t);
                (!v.is_empty()).then_some(v)
            })
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
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

/// Capabilities the app exercised on the source host, for hosts that grant them one by one.
fn capabilities(inp: &Inputs, cand: &Candidate, procs: &[&Process]) -> Vec<String> {
    let mut caps = Vec::new();
    if inp.snapshot.sockets_of(&cand.pids).any(|s| s.port < 1024) {
        caps.push("CAP_NET_BIND_SERVICE");
    }
    let root = procs[0];
    if procs
        .iter()
        .any(|p| p.uids[1] != root.uids[1] || p.gids[1] != root.gids[1])
    {
        caps.extend(["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE"]);
    }
    caps.into_iter().map(str::to_string).collect()
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
fn version(inp: &Inputs, root: &Process, a: &Analyzer) -> String {
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

fn fit(a: &Analyzer, root: &Process, findings: &[Finding]) -> (Fit, Vec<String>) {
    let mut reasons = Vec::new();
    let devices: Vec<&str> = root
        .fds
        .iter()
        .map(|f| f.target.as_str())
        .filter(|t| t.starts_with("/dev/") && !is_harmless_device(t))
        .collect();
    if !devices.is_empty() {
        reasons.push(format!("uses devices: {}", devices.join(", ")));
        return (Fit::Poor, reasons);
    }
    if root.exe.is_none() {
        reasons.push("executable unknown".to_string());
        return (Fit::Poor, reasons);
    }
    let errors = findings
        .iter()
        .filter(|f| f.level == crate::findings::Level::Error)
        .count();
    if a.id == "generic" {
        reasons.push("no analyzer knows it: lifted from runtime evidence alone".to_string());
        return (Fit::Partial, reasons);
    }
    if errors > 0 {
        reasons.push(format!("{errors} error findings"));
        return (Fit::Partial, reasons);
    }
    reasons.push(format!("analyzer {} recognized it", a.id));
    (Fit::Good, reasons)
}

fn is_harmless_device(path: &str) -> bool {
    matches!(
        path,
        "/dev/null"
            | "/dev/zero"
            | "/dev/random"
            | "/dev/urandom"
            | "/dev/tty"
            | "/dev/console"
            | "/dev/ptmx"
    ) || path.starts_with("/dev/pts/")
}
