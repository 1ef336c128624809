//! Analysis of one application: from its processes and the host's files to an `AppPlan`.
//!
//! Evidence is gathered into a `Draft` in a fixed order — what the processes show, the
//! analyzer's rules, the systemd unit, the analyzer's hook, open files, the evidence sources
//! (`sources::SOURCES`: command line, state, package, binary literals, runtimes, entrypoint,
//! configuration), what the C library loads — then the draft is frozen into the plan.

use super::draft::Draft;
use super::fileset::{is_copyable, FileSet};
use super::group::Candidate;
use super::spec::Analyzer;
use super::vars::{self, Context};
use super::{evidence, hooks, image, rules, sources, systemd, sysv, users, Inputs};
use crate::elf::LoaderEnv;
use crate::findings::Finding;
use crate::plan::{AppPlan, Fit, ImageSpec, ProcessInfo, Role, SecretMount};
use crate::snapshot::Process;
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
    let mut d = Draft {
        vars: vars::builtins(&cx),
        ..Draft::default()
    };
    vars::evaluate(&cx, &mut d.vars, None);
    let config = rules::read_config(&cx, &mut d.vars, &mut d.findings);
    let base = rules::config_base(&cx, &d.vars);
    add_process_evidence(inp, &procs, &mut d);
    rules::apply(inp, analyzer, &base, config.as_ref(), &mut d);
    let unit = systemd::read(inp.host, root.unit.as_deref(), &mut d.findings);
    if let Some(unit) = &unit {
        systemd::apply(unit, analyzer, &mut d);
    } else if let Some(script) = sysv::find_for(inp.host, root) {
        sysv::apply(&script, analyzer, &mut d);
    }
    if let Some(hook) = &analyzer.hook {
        let hx = hooks::HookContext {
            inputs: inp,
            process: root,
            processes: &procs,
            analyzer,
            config: config.as_ref(),
        };
        hooks::run(hook, &hx, &mut d);
    }
    add_open_files(inp, &procs, &mut d);
    // The command the image runs is known before the sources: they take the paths it names.
    if d.entrypoint.is_none() {
        let ep = image::entrypoint(root, analyzer, &d.vars, &mut d.findings);
        d.findings.extend(image::retitled(root, &ep, &cand.listen));
        d.entrypoint = Some(ep);
    }
    image::point_at_what_is_there(inp, root, &mut d);
    sources::gather(inp, &procs, analyzer, &mut d);
    if !inp.snapshot.host.selinux.is_empty() {
        d.findings.push(Finding::info(
            "security.selinux",
            format!(
                "SELinux on the source: {}; file labels are never copied into the image's layers (the engine labels the container)",
                inp.snapshot.host.selinux
            ),
        ));
    }
    let loader_env = LoaderEnv {
        ld_library_path: root.env("LD_LIBRARY_PATH").map(str::to_string),
        ld_preload: root.env("LD_PRELOAD").map(str::to_string),
    };
    evidence::add_system_files(inp, root, &mut d.files, &mut d.elf_objects);
    evidence::add_elf_closure(
        inp,
        &d.elf_objects,
        &loader_env,
        &mut d.files,
        &mut d.findings,
    );
    d.settle();

    mark_live_writes(&procs, analyzer, &d.vars, &mut d.volumes);

    let account = users::accounts(inp.snapshot, &procs, &d.vars);
    let generated = users::generated_files(&account);
    let image = image::image_spec(inp, cand, &procs, analyzer, &mut d);
    if image.workdir != "/" {
        d.add_dir(
            image.workdir.clone(),
            format!("working directory of pid {}", root.pid),
        );
        d.settle();
    }
    let excluded = super::exclude::apply(inp.excludes, inp.host, &mut d);
    let secrets = find_secrets(inp, &mut d.files, &image);
    let guessed = say_what_was_guessed(inp, analyzer, &d.vars, &mut d.findings);
    let (fit, fit_reasons) = fit(analyzer, root, &d.findings, &guessed);
    let unit_caps = d.capabilities.clone();
    let mut app = AppPlan {
        name: cand.name.clone(),
        analyzer: analyzer.id.clone(),
        version: image::version(inp, root, analyzer),
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
                cmdline: image::trimmed_cmdline(p),
            })
            .collect(),
        unit: root.unit.clone(),
        image,
        files: package_notes(inp, d.files.into_entries(|p| inp.packages.owner(p))),
        generated,
        links: d.links,
        dirs: d.dirs,
        volumes: d.volumes,
        secrets,
        connections: Vec::new(),
        probes: analyzer.runtime.probes.clone(),
        findings: d.findings,
        packages: Vec::new(),
        deploy: super::resources::deploy(&procs),
        excluded,
        hardening: Default::default(),
    };
    let evidence = crate::harden::HostEvidence {
        snapshot: inp.snapshot,
        host: inp.host,
        procs: &procs,
        unit_caps: &unit_caps,
    };
    crate::harden::analyze(&evidence, &mut app);
    app
}

/// Adds what the package database says of each file (an rpm `%config` changed since install).
fn package_notes(
    inp: &Inputs,
    mut files: Vec<crate::plan::FileEntry>,
) -> Vec<crate::plan::FileEntry> {
    for f in &mut files {
        if let Some(note) = inp.packages.note(inp.host, &f.path) {
            f.why.push(note);
        }
    }
    files
}

/// What the processes themselves show: their executables and every file they have mapped.
fn add_process_evidence(inp: &Inputs, procs: &[&Process], d: &mut Draft) {
    for p in procs {
        match &p.exe {
            Some(exe) => {
                d.files
                    .add_observed(exe, Role::Code, format!("executable of pid {}", p.pid));
                d.elf_objects.push(exe.clone());
            }
            None if p.pid == procs[0].pid => d.findings.push(Finding::error(
                format!("pid {}", p.pid),
                "its executable could not be read: the image has no entrypoint binary",
            )),
            None => {}
        }
        for m in p.maps.iter().filter(|m| is_copyable(m)) {
            if inp.host.stat(Path::new(m)).is_ok_and(|s| s.is_file()) {
                d.files
                    .add_observed(m, Role::Code, format!("mapped by pid {}", p.pid));
                d.elf_objects.push(m.clone());
            }
        }
        for problem in &p.unreadable {
            d.findings
                .push(Finding::warning(format!("pid {}", p.pid), problem.clone()));
        }
    }
}

/// A volume the application was writing as it was analyzed: copied while it runs, its files may
/// not agree with each other (a database's pages and its log). Says so, and what to do.
fn mark_live_writes(
    procs: &[&Process],
    analyzer: &Analyzer,
    vars: &vars::Vars,
    volumes: &mut [crate::plan::Volume],
) {
    for v in volumes.iter_mut().filter(|v| {
        v.kind == crate::plan::VolumeKind::Volume && v.populate && v.populate_with.is_none()
    }) {
        let prefix = format!("{}/", v.path.trim_end_matches('/'));
        let writer = procs.iter().find_map(|p| {
            p.fds
                .iter()
                .find(|f| f.writes() && f.target.starts_with(&prefix))
                .map(|f| (p.pid, f.target.clone()))
        });
        let Some((pid, file)) = writer else { continue };
        let dump = analyzer
            .runtime
            .dump
            .as_deref()
            .and_then(|t| vars.expand_one(t))
            .map(|d| format!(", or save it with the application's own tool first ({d})"))
            .unwrap_or_default();
        v.live_writes = Some(format!(
            "pid {pid} writes here as it runs ({file}): a copy taken while it runs may not be \
             consistent. Stop the application before build, or build from a filesystem \
             snapshot of the host (LVM, ZFS, btrfs) given with --root{dump}"
        ));
    }
}

/// Files the processes hold open: configuration they keep reading, logs they write, state.
fn add_open_files(inp: &Inputs, procs: &[&Process], d: &mut Draft) {
    for p in procs {
        for fd in &p.fds {
            let path = fd.target.as_str();
            if !is_copyable(path)
                || d.volumes
                    .iter()
                    .any(|v| path.starts_with(&format!("{}/", v.path)))
                || d.links.iter().any(|l| l.path == path)
            {
                continue;
            }
            if !inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_file()) {
                continue;
            }
            // Read-only under a state place is content being served or read, not state;
            // snapshots without open flags keep the place's word for it.
            let read_only = fd.flags.is_some() && !fd.writes();
            let role = if path.starts_with("/var/log/") || path.ends_with(".log") {
                Role::Log
            } else if ["/var/lib/", "/srv/", "/var/spool/", "/var/cache/"]
                .iter()
                .any(|dir| path.starts_with(dir))
                && !read_only
            {
                Role::State
            } else {
                Role::Config
            };
            d.files
                .add_observed(path, role, format!("open by pid {} (fd {})", p.pid, fd.fd));
        }
    }
}

/// Marks files holding credentials as secrets (kept out of the image, mounted at run time) and
/// lists them with the environment variables that hold credentials.
fn find_secrets(inp: &Inputs, files: &mut FileSet, image: &ImageSpec) -> Vec<SecretMount> {
    // Code a package installed (an interpreter's standard library) is the distribution's, not the
    // operator's: its "password" strings are code, never credentials.
    let found: Vec<(String, super::secrets::Hit)> = files
        .paths()
        .filter(|p| files.role(p) != Some(Role::Code) || inp.packages.owner(p).is_none())
        .filter_map(|p| super::secrets::scan_file(inp.host, p).map(|hit| (p.to_string(), hit)))
        .collect();
    let found = super::secrets::not_pristine(inp.host, found, |p| inp.packages.owner(p));
    let mut secrets = Vec::new();
    for (path, hit) in found {
        files.add(
            &path,
            Role::Secret,
            format!("secret: {} ({})", hit.kind, hit.detail),
        );
        secrets.push(SecretMount {
            path,
            kind: hit.kind,
            why: hit.detail,
        });
    }
    for (key, why) in &image.env_dropped {
        if why.starts_with("secret:") {
            secrets.push(SecretMount {
                path: format!("env:{key}"),
                kind: "environment variable".to_string(),
                why: why.clone(),
            });
        }
    }
    secrets
}

/// A finding for each value the analyzer assumed without evidence: the image may be built from
/// a file the program never read, or listen where it did not. Returns the variables' names
/// that lower the fit: on a host whose files are not at hand (a snapshot analyzed from its
/// inventory alone) nothing could have been seen, the plan says so as a whole, and the fit is
/// not lowered for it (the fleet report would show differences that are only missing files).
fn say_what_was_guessed(
    inp: &Inputs,
    a: &Analyzer,
    vars: &vars::Vars,
    findings: &mut Vec<Finding>,
) -> Vec<String> {
    let no_files = inp.host.root_label().is_empty();
    let mut names = Vec::new();
    for (name, values, why) in vars.guesses() {
        let message = crate::findings::guessed(format!(
            "{name} = {}: {why}; no command-line option, live answer or configuration gave it{}",
            values.join(" "),
            if no_files {
                " (the host's files were not at hand)"
            } else {
                " (check it, and set it in the plan)"
            }
        ));
        let subject = format!("analyzer {}", a.id);
        if no_files {
            findings.push(Finding::info(subject, message));
        } else {
            findings.push(Finding::warning(subject, message));
            names.push(name.to_string());
        }
    }
    names
}

fn fit(
    a: &Analyzer,
    root: &Process,
    findings: &[Finding],
    guessed: &[String],
) -> (Fit, Vec<String>) {
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
    if !guessed.is_empty() {
        reasons.push(format!(
            "guessed, not seen on the host: {}",
            guessed.join(", ")
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Volume, VolumeKind};
    use crate::snapshot::OpenFile;

    #[test]
    fn a_volume_written_as_it_runs_says_what_to_do_and_names_the_apps_dump_tool() {
        let p = Process {
            pid: 7,
            fds: vec![OpenFile {
                fd: 9,
                target: "/var/lib/redis/appendonly.aof".into(),
                flags: Some(0o102001),
            }],
            ..Process::default()
        };
        let mut a = Analyzer::generic();
        a.runtime.dump = Some("redis-cli -p {port} SAVE".into());
        let mut vars = vars::Vars::default();
        vars.set("port", vec!["6379".into()], "test");
        let volume = |path: &str| Volume {
            path: path.into(),
            kind: VolumeKind::Volume,
            populate: true,
            populate_with: None,
            why: "t".into(),
            live_writes: None,
            scratch: false,
        };
        let mut volumes = vec![volume("/var/lib/redis"), volume("/srv/quiet")];
        mark_live_writes(&[&p], &a, &vars, &mut volumes);
        let live = volumes[0].live_writes.as_deref().unwrap();
        assert!(
            live.contains("pid 7 writes here as it runs (/var/lib/redis/appendonly.aof)"),
            "{live}"
        );
        assert!(live.contains("Stop the application") && live.contains("filesystem snapshot"));
        assert!(live.contains("(redis-cli -p 6379 SAVE)"), "{live}");
        assert!(volumes[1].live_writes.is_none(), "nothing writes there");
    }
}
