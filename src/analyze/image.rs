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
    let mut set_elsewhere = d.env_read.clone();
    for kv in &d.env {
        let key = kv.split('=').next().unwrap_or_default();
        set_elsewhere.insert(key.to_string(), "set by the unit or a hook".to_string());
    }
    // A declared process's environment is what its unit or script sets (Environment=,
    // EnvironmentFile=): all of it is the service's own configuration, none a login shell's.
    if root.declared.is_some() {
        for kv in &root.environ {
            let key = kv.split('=').next().unwrap_or_default();
            set_elsewhere.insert(key.to_string(), "set by the unit or its script".to_string());
        }
    }
    if let Some(why) = environ::keep_read(&mut env, inp.host, &d.files, &set_elsewhere) {
        d.findings.push(Finding::info(
            format!("pid {}", root.pid),
            format!("every variable of the process is kept: {why}"),
        ));
    }
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

pub fn entrypoint(
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
    // A title rewritten into one string keeps its words for `point_at_what_is_there`.
    let title = cmd.len() == 1 && cmd[0].contains(' ');
    if let (Some(first), Some(exe)) = (cmd.first_mut(), &root.exe) {
        if !first.starts_with('/') && !title {
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

/// A command line whose first argument is the process's own listening address
/// (`redis-server 127.0.0.1:6379`) is a title the program wrote over its arguments, not how it
/// was started: the entrypoint built from it is a guess, said as such (fit lowered), with
/// where the real start command is found.
pub fn retitled(root: &Process, entrypoint: &[String], listen: &[String]) -> Option<Finding> {
    // The title is often one string with spaces (`redis-server 127.0.0.1:6379`).
    // Titles are padded with empty words where the arguments were.
    let words = |cmd: &[String]| -> Vec<String> {
        match trimmed(cmd) {
            [one] => one.split_whitespace().map(str::to_string).collect(),
            many => many.to_vec(),
        }
    };
    let title = words(&root.cmdline);
    // Only when the entrypoint is that command line: an analyzer's own one is not a guess.
    if title.get(1..) != words(entrypoint).get(1..) {
        return None;
    }
    let first = title.get(1)?.as_str();
    let port = first.rsplit_once(':')?.1;
    let own = listen.iter().any(|l| {
        let addr = l.split('/').next().unwrap_or(l);
        addr == first || (addr.ends_with(&format!(":{port}")) && first.starts_with("*:"))
    });
    own.then(|| {
        Finding::warning(
            format!("pid {}", root.pid),
            crate::findings::guessed(format!(
                "entrypoint {}: the process rewrote its command line into a title naming its \
                 own address {first}, so how it was started is not visible; the image may not \
                 start. Put its start command in the plan's entrypoint (its init script or \
                 unit has it; with one on the host, liftkit takes it from there)",
                root.cmdline.join(" ")
            )),
        )
    })
}

/// An entrypoint must name a program the host has: a title the process rewrote into one
/// string (`nginx: master process /usr/sbin/nginx -c x.conf`) runs from its first word that is
/// a program; a command naming a path the host no longer has (argv[0] of a deleted or moved
/// file) runs the executable the process really ran.
pub fn point_at_what_is_there(inp: &Inputs, root: &Process, d: &mut Draft) {
    let Some(ep) = d.entrypoint.as_mut() else {
        return;
    };
    let is_program =
        |p: &str| p.starts_with('/') && inp.host.stat(Path::new(p)).is_ok_and(|m| m.is_file());
    if ep.len() == 1 && ep[0].contains(' ') {
        let title = ep[0].clone();
        let words: Vec<String> = title.split_whitespace().map(str::to_string).collect();
        let path = root
            .env("PATH")
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        let real = |p: &str| inp.host.real_path(Path::new(p)).ok();
        let exe_real = root.exe.as_deref().and_then(real);
        // The program: an absolute path the host has, or a bare name that is the executable
        // as found on PATH (`redis-server`, a link whose name chooses the mode).
        let start = words.iter().enumerate().find_map(|(i, w)| {
            if is_program(w) {
                return Some((i, w.clone()));
            }
            let found = super::sources::entry::locate(inp, w, path)?;
            (exe_real.is_some() && real(&found) == exe_real).then_some((i, found))
        });
        let rewritten: Vec<String> = match start {
            Some((i, program)) => {
                // What follows the arguments is the title's own status (`[listener] 0 of
                // 10-100 startups`).
                let args = words[i + 1..]
                    .iter()
                    .take_while(|w| !w.starts_with('[') && !w.starts_with('('))
                    .cloned();
                std::iter::once(program).chain(args).collect()
            }
            None => root.exe.iter().cloned().collect(),
        };
        if !rewritten.is_empty() {
            d.findings.push(Finding::info(
                format!("pid {}", root.pid),
                format!(
                    "the process rewrote its title ({title:?}): the entrypoint runs {}",
                    rewritten.join(" ")
                ),
            ));
            *ep = rewritten;
        }
    }
    let (Some(first), Some(exe)) = (ep.first_mut(), &root.exe) else {
        return;
    };
    if !first.starts_with('/') || is_program(first) {
        return;
    }
    if is_program(exe) {
        d.findings.push(Finding::warning(
            format!("pid {}", root.pid),
            format!("the command names {first}, which the host does not have: the entrypoint runs {exe}, the executable the process ran"),
        ));
        *first = exe.clone();
    }
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
    trimmed(&p.cmdline).to_vec()
}

/// A command line without the empty words a rewritten title is padded with.
fn trimmed(cmd: &[String]) -> &[String] {
    let end = cmd.iter().rposition(|w| !w.is_empty()).map_or(0, |i| i + 1);
    &cmd[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::sources::testing::{process, Fixture};

    fn entry_of(fx: &Fixture, p: &Process) -> Vec<String> {
        let mut d = Draft::default();
        d.entrypoint = Some(entrypoint(
            p,
            &Analyzer::generic(),
            &d.vars,
            &mut d.findings,
        ));
        fx.with_inputs(p, |inp| point_at_what_is_there(inp, p, &mut d));
        d.entrypoint.unwrap()
    }

    #[test]
    fn a_rewritten_title_gives_back_the_command_it_ran() {
        let fx = Fixture::new();
        fx.write("/usr/sbin/sshd", "\x7fELF")
            .write("/usr/bin/redis-check-rdb", "\x7fELF")
            .symlink("redis-check-rdb", "/usr/bin/redis-server");
        let title = "sshd: /usr/sbin/sshd -f /srv/s/sshd_config [listener] 0 of 10-100 startups";
        let p = process("/usr/sbin/sshd", &[title], "/");
        assert_eq!(
            entry_of(&fx, &p),
            ["/usr/sbin/sshd", "-f", "/srv/s/sshd_config"]
        );
        // A bare name that is the executable on PATH keeps its name: redis chooses its mode by it.
        let mut p = process(
            "/usr/bin/redis-check-rdb",
            &["redis-server 127.0.0.1:6379"],
            "/",
        );
        p.environ = vec!["PATH=/usr/bin".into()];
        assert_eq!(entry_of(&fx, &p)[0], "/usr/bin/redis-server");
        // argv[0] naming a path the host no longer has runs the executable.
        let p = process("/usr/sbin/sshd", &["/opt/old/sshd", "-D"], "/");
        assert_eq!(entry_of(&fx, &p), ["/usr/sbin/sshd", "-D"]);
    }

    #[test]
    fn a_title_naming_its_own_address_is_said_to_be_a_guess() {
        let mut p = Process {
            pid: 7,
            cmdline: vec!["/usr/bin/redis-server".into(), "127.0.0.1:6390".into()],
            ..Process::default()
        };
        let l = |a: &str| vec![a.to_string()];
        let ep = p.cmdline.clone();
        let f = retitled(&p, &ep, &l("127.0.0.1:6390/tcp")).expect("a finding");
        assert!(
            f.is_guess() && f.message.contains("own address 127.0.0.1:6390"),
            "{f}"
        );
        assert!(retitled(&p, &ep, &l("127.0.0.1:6391/tcp")).is_none());
        let analyzers = l("/usr/bin/redis-server /etc/redis/redis.conf");
        assert!(retitled(&p, &analyzers, &l("127.0.0.1:6390/tcp")).is_none());
        p.cmdline = vec!["redis-server *:6379".into(), String::new(), String::new()];
        assert!(retitled(&p, &p.cmdline.clone(), &l("0.0.0.0:6379/tcp")).is_some());
        p.cmdline = vec![
            "/usr/bin/gunicorn".into(),
            "--bind".into(),
            "0.0.0.0:80".into(),
        ];
        assert!(retitled(&p, &p.cmdline.clone(), &l("0.0.0.0:80/tcp")).is_none());
    }
}
