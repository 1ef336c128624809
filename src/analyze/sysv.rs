//! SysV and LSB init scripts (`/etc/init.d/<name>`): what the script sets for the daemon it
//! starts — the command (`start-stop-daemon`, RHEL's `daemon`, `su -c`, `runuser`), its user,
//! working directory and pid file, `ulimit` and `export` lines, and the defaults files it sources
//! (`/etc/default/<name>`, `/etc/sysconfig/<name>`) — carried into the plan with the reason, as
//! systemd units are in `systemd.rs`.
//!
//! A script is shell, and liftkit never runs the host's programs: this reads it the way a person
//! would, assignments in order, `$VAR`/`${VAR:-default}` expanded from them, and says what it
//! could not follow.

use super::draft::Draft;
use super::spec::Analyzer;
use crate::findings::Finding;
use crate::host::Host;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const INIT_DIR: &str = "/etc/init.d";
const MAX_SCRIPT: u64 = 1 << 20;
/// Helper libraries every script sources: functions, not settings.
const LIBRARIES: &[&str] = &[
    "/lib/lsb/init-functions",
    "/etc/init.d/functions",
    "/etc/rc.d/init.d/functions",
    "/etc/rc.status",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub path: String,
    /// LSB `Provides:`.
    pub provides: Vec<String>,
    pub daemon: Option<Daemon>,
    /// `KEY=VALUE` exported to the daemon, each with the line that set it.
    pub env: Vec<(String, String)>,
    /// `ulimit` settings: limit name (`nofile`, `core`, …) → (soft, hard), with the line.
    pub rlimits: BTreeMap<String, ((u64, u64), String)>,
    pub umask: Option<String>,
    /// Files the script sources for its settings.
    pub sourced: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Daemon {
    pub cmdline: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub pidfile: Option<String>,
    pub chdir: Option<String>,
    /// The daemon is sent to the background by the script (`--background`, `&`).
    pub background: bool,
    /// `start-stop-daemon at line 42`: where the command came from.
    pub how: String,
}

struct Reader<'a> {
    host: &'a dyn Host,
    vars: BTreeMap<String, String>,
    script: Script,
    depth: usize,
}

/// Reads and interprets the script at `path` on `host`.
pub fn read(host: &dyn Host, path: &Path) -> Option<Script> {
    let text = host.read_limited(path, MAX_SCRIPT).ok()?;
    let text = String::from_utf8_lossy(&text);
    let name = path.file_name()?.to_string_lossy().into_owned();
    let mut r = Reader {
        host,
        vars: BTreeMap::from([
            ("NAME".to_string(), name.clone()),
            ("0".to_string(), path.display().to_string()),
        ]),
        script: Script {
            path: path.display().to_string(),
            ..Script::default()
        },
        depth: 0,
    };
    r.script.provides = lsb_provides(&text);
    // Scripts set NAME themselves, usually to the same.
    r.vars.remove("NAME");
    r.lines(&text, &path.display().to_string());
    Some(r.script)
}

fn lsb_provides(text: &str) -> Vec<String> {
    let mut inside = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("### BEGIN INIT INFO") {
            inside = true;
        } else if l.starts_with("### END INIT INFO") {
            break;
        } else if inside {
            if let Some(v) = l.trim_start_matches('#').trim().strip_prefix("Provides:") {
                return v.split_whitespace().map(str::to_string).collect();
            }
        }
    }
    Vec::new()
}

/// Joins `\` continuations and drops comments, keeping 1-based line numbers.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            start = i + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            out.push((start, trimmed.to_string()));
        }
    }
    out
}

impl Reader<'_> {
    fn lines(&mut self, text: &str, file: &str) {
        for (n, line) in logical_lines(text) {
            let at = format!("{file}:{n}");
            // `a && b`, `a || b`, `a; b`: each part may assign, source or start.
            for part in split_list(&line) {
                self.statement(part.trim(), &at);
            }
        }
    }

    fn statement(&mut self, s: &str, at: &str) {
        let s = s.trim_start_matches(['(', '{']).trim();
        // `if CMD` and `! CMD` run CMD: Debian's scripts start their daemon in a condition.
        let mut s = s;
        for kw in ["then ", "else ", "do ", "if ", "while ", "! "] {
            s = s.strip_prefix(kw).unwrap_or(s).trim();
        }
        if s.is_empty() || s.starts_with('[') || s.starts_with("test ") {
            return;
        }
        if let Some(file) = s.strip_prefix(". ").or_else(|| s.strip_prefix("source ")) {
            self.source(file.trim(), at);
            return;
        }
        if let Some(rest) = s.strip_prefix("export ") {
            for word in shlex::split(&self.expand(rest)).unwrap_or_default() {
                let kv = match word.split_once('=') {
                    Some(_) => word.clone(),
                    None => format!(
                        "{word}={}",
                        self.vars.get(&word).cloned().unwrap_or_default()
                    ),
                };
                if let Some((k, v)) = kv.split_once('=') {
                    self.vars.insert(k.to_string(), v.to_string());
                }
                self.script
                    .env
                    .retain(|(e, _)| e.split('=').next() != kv.split('=').next());
                self.script.env.push((kv, format!("export at {at}")));
            }
            return;
        }
        if let Some(rest) = s.strip_prefix("ulimit ") {
            self.ulimit(rest, at);
            return;
        }
        if let Some(rest) = s.strip_prefix("umask ") {
            self.script.umask = Some(rest.trim().to_string());
            return;
        }
        if let Some((k, v)) = assignment(s) {
            let value = shlex::split(&self.expand(v))
                .map(|w| w.join(" "))
                .unwrap_or_default();
            self.vars.insert(k.to_string(), value);
            return;
        }
        if self.script.daemon.is_none() {
            self.script.daemon = self.start_command(s, at);
        }
    }

    fn source(&mut self, file: &str, at: &str) {
        let file = self.expand(file);
        let file = file.trim().trim_matches(['"', '\'']);
        if LIBRARIES.contains(&file) || self.depth > 4 || !file.starts_with('/') {
            return;
        }
        let Ok(text) = self.host.read_to_string(Path::new(file)) else {
            return;
        };
        self.script
            .sourced
            .push(format!("{file} (sourced at {at})"));
        self.depth += 1;
        self.lines(&text, file);
        self.depth -= 1;
    }

    fn ulimit(&mut self, rest: &str, at: &str) {
        let words: Vec<String> = shlex::split(&self.expand(rest)).unwrap_or_default();
        let (mut soft, mut hard) = (true, true);
        let mut name = None;
        let mut value = None;
        for w in &words {
            if let Some(flags) = w.strip_prefix('-') {
                for f in flags.chars() {
                    match f {
                        'S' => hard = false,
                        'H' => soft = false,
                        'n' => name = Some("nofile"),
                        'c' => name = Some("core"),
                        'u' => name = Some("nproc"),
                        'l' => name = Some("memlock"),
                        's' => name = Some("stack"),
                        _ => {}
                    }
                }
            } else {
                value = Some(if w == "unlimited" {
                    u64::MAX
                } else {
                    w.parse().unwrap_or(0)
                });
            }
        }
        let (Some(name), Some(v)) = (name, value) else {
            return;
        };
        let why = format!("ulimit {} at {at}", rest.trim());
        let entry = self
            .script
            .rlimits
            .entry(name.to_string())
            .or_insert(((v, v), why.clone()));
        if soft {
            entry.0 .0 = v;
        }
        if hard {
            entry.0 .1 = v;
        }
        entry.1 = why;
    }

    /// The command a start line runs, if it is one.
    fn start_command(&self, s: &str, at: &str) -> Option<Daemon> {
        let expanded = self.expand(s);
        let words = shlex::split(&expanded)?;
        let first = words.first()?.as_str();
        let cmd = first.rsplit('/').next().unwrap_or(first);
        match cmd {
            "start-stop-daemon" => start_stop_daemon(&words[1..], at),
            "daemon" => rhel_daemon(&words[1..], at),
            "su" => su(&words[1..], at),
            "runuser" => runuser(&words[1..], at),
            "nohup" | "exec" => {
                let d = command(&words[1..], at, first)?;
                Some(d)
            }
            _ if first.starts_with('/') && self.mentions_daemon(s) => {
                command(&words, at, "command")
            }
            _ => None,
        }
    }

    /// A bare command line counts only when it runs the script's `$DAEMON`-style variable: a
    /// script calls many programs (`mkdir`, `chown`) that are not the service.
    fn mentions_daemon(&self, s: &str) -> bool {
        [
            "$DAEMON",
            "${DAEMON}",
            "$EXEC",
            "${EXEC}",
            "$prog",
            "${prog}",
            "$BIN",
            "${BIN}",
        ]
        .iter()
        .any(|v| s.starts_with(v))
    }

    fn expand(&self, s: &str) -> String {
        expand(s, &self.vars)
    }
}

/// `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:=default}`; single-quoted text
/// is left alone. Unknown variables expand to nothing, as in the shell.
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut single = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            single = !single;
        }
        if c != '$' || single || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        if chars[i + 1] == '{' {
            let Some(end) = chars[i + 2..].iter().position(|&c| c == '}') else {
                out.push(c);
                i += 1;
                continue;
            };
            let inner: String = chars[i + 2..i + 2 + end].iter().collect();
            let (name, default) = match inner.find([':', '-', '=']) {
                Some(p) => {
                    let d = inner[p..].trim_start_matches([':', '-', '=']);
                    (&inner[..p], Some(d.to_string()))
                }
                None => (inner.as_str(), None),
            };
            let value = vars.get(name).filter(|v| !v.is_empty()).cloned();
            out.push_str(
                &value
                    .or(default.map(|d| expand(&d, vars)))
                    .unwrap_or_default(),
            );
            i += 3 + end;
            continue;
        }
        let name: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .collect();
        if name.is_empty() {
            out.push(c);
            i += 1;
            continue;
        }
        out.push_str(vars.get(&name).map_or("", String::as_str));
        i += 1 + name.len();
    }
    out
}

/// `NAME=value` at the start of a statement (and not `NAME=value cmd`).
fn assignment(s: &str) -> Option<(&str, &str)> {
    let (k, v) = s.split_once('=')?;
    let ok = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    let single_word = shlex::split(v).is_some_and(|w| w.len() <= 1);
    (ok && single_word).then_some((k, v))
}

/// Splits a line at `&&`, `||` and `;` outside quotes.
fn split_list(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'\'' | b'"') => quote = Some(b[i]),
            (Some(q), c) if c == q => quote = None,
            (None, b';') => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            (None, b'&' | b'|') if b.get(i + 1) == Some(&b[i]) => {
                out.push(&line[start..i]);
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&line[start..]);
    out
}

/// The program and arguments of a simple command, redirections and a trailing `&` dropped.
fn command(words: &[String], at: &str, how: &str) -> Option<Daemon> {
    let mut background = false;
    let mut cmd: Vec<String> = Vec::new();
    for w in words {
        if w == "&" {
            background = true;
            break;
        }
        if w.ends_with('&') && !w.ends_with("&&") && (w.starts_with('>') || w.starts_with('2')) {
            background = true;
            continue;
        }
        if w.starts_with('>')
            || w.starts_with("2>")
            || w.starts_with("1>")
            || w.starts_with('<')
            || w.starts_with("&>")
        {
            continue;
        }
        if w == "exec" && cmd.is_empty() {
            continue;
        }
        cmd.push(w.clone());
    }
    (!cmd.is_empty()).then(|| Daemon {
        cmdline: cmd,
        background,
        how: format!("{how} at {at}"),
        ..Daemon::default()
    })
}

fn start_stop_daemon(args: &[String], at: &str) -> Option<Daemon> {
    let mut d = Daemon {
        how: format!("start-stop-daemon at {at}"),
        ..Daemon::default()
    };
    let (mut start, mut exec, mut startas) = (false, None, None);
    let mut it = args.iter();
    let mut rest = Vec::new();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--" => {
                rest = it.by_ref().cloned().collect();
                break;
            }
            "-S" | "--start" => start = true,
            "-K" | "--stop" | "-T" | "--status" => return None,
            "-x" | "--exec" => exec = value(),
            "-a" | "--startas" => startas = value(),
            "-c" | "--chuid" => {
                let v = value().unwrap_or_default();
                let (u, g) = v.split_once(':').map_or((v.clone(), None), |(u, g)| {
                    (u.to_string(), Some(g.to_string()))
                });
                d.user = Some(u);
                d.group = g;
            }
            "-u" | "--user" => {
                let u = value();
                d.user = d.user.take().or(u);
            }
            "-g" | "--group" => d.group = value(),
            "-p" | "--pidfile" => d.pidfile = value(),
            "-d" | "--chdir" => d.chdir = value(),
            "-b" | "--background" => d.background = true,
            "-n" | "--name" | "-N" | "--nicelevel" | "-k" | "--umask" | "-r" | "--chroot"
            | "-R" | "--retry" | "-s" | "--signal" | "-P" | "--procsched" | "-I" | "--iosched" => {
                // Options with a value that says nothing a container keeps: skip the value.
                value();
            }
            _ => {}
        }
    }
    if !start {
        return None;
    }
    let program = startas.or(exec)?;
    d.cmdline = std::iter::once(program)
        .chain(
            rest.into_iter()
                .take_while(|w| w != "&" && !w.starts_with('>')),
        )
        .collect();
    Some(d)
}

/// RHEL's `daemon [--user U] [--pidfile P] [--check N] [+/-nice] program args` from
/// `/etc/init.d/functions`.
fn rhel_daemon(args: &[String], at: &str) -> Option<Daemon> {
    let mut d = Daemon {
        how: format!("daemon (RHEL init functions) at {at}"),
        ..Daemon::default()
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let take = |i: &mut usize| {
            inline.clone().or_else(|| {
                *i += 1;
                args.get(*i).cloned()
            })
        };
        match flag {
            "--user" => d.user = take(&mut i),
            "--pidfile" => d.pidfile = take(&mut i),
            "--check" => {
                take(&mut i);
            }
            f if f.starts_with('+') || (f.starts_with('-') && f[1..].parse::<i32>().is_ok()) => {}
            _ => break,
        }
        i += 1;
    }
    let cmd = command(&args[i..], at, "daemon")?;
    d.cmdline = cmd.cmdline;
    d.background = cmd.background;
    Some(d)
}

/// `su [-] [-s SHELL] USER -c "CMD"` and `su -c "CMD" USER`.
fn su(args: &[String], at: &str) -> Option<Daemon> {
    let mut user = None;
    let mut cmd = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-" | "-l" | "--login" | "-m" | "-p" => {}
            "-s" | "--shell" => i += 1,
            "-c" | "--command" => {
                i += 1;
                cmd = args.get(i).cloned();
            }
            u if !u.starts_with('-') && user.is_none() => user = Some(u.to_string()),
            _ => {}
        }
        i += 1;
    }
    let inner = shlex::split(&cmd?)?;
    let mut d = command(&inner, at, "su -c")?;
    d.user = user.or(Some("root".into()));
    Some(d)
}

/// `runuser -u USER -- CMD…` and `runuser -l USER -c "CMD"`.
fn runuser(args: &[String], at: &str) -> Option<Daemon> {
    if let Some(p) = args.iter().position(|a| a == "-u") {
        let user = args.get(p + 1)?.clone();
        let start = args.iter().position(|a| a == "--").map_or(p + 2, |i| i + 1);
        let mut d = command(args.get(start..)?, at, "runuser")?;
        d.user = Some(user);
        return Some(d);
    }
    let mut d = su(args, at)?;
    d.how = format!("runuser at {at}");
    Some(d)
}

/// The init script that started a process: the one a declared process names, else one whose pid
/// file names it, else (for a script without a pid file) one whose daemon is the same file. A
/// script with a pid file that names another process started another instance, not this one.
pub fn find_for(host: &dyn Host, p: &crate::snapshot::Process) -> Option<Script> {
    if let Some(decl) = &p.declared {
        let path = decl.strip_prefix("SysV init script ")?.split(' ').next()?;
        return read(host, Path::new(path));
    }
    let exe = p.exe.as_deref()?;
    let names = host.read_dir(Path::new(INIT_DIR)).ok()?;
    let real_exe = host.real_path(Path::new(exe)).ok();
    names.iter().find_map(|n| {
        let path = PathBuf::from(INIT_DIR).join(n);
        let script = read(host, &path)?;
        let d = script.daemon.as_ref()?;
        let matches = match &d.pidfile {
            Some(f) => host
                .read_to_string(Path::new(f))
                .is_ok_and(|t| t.trim() == p.pid.to_string()),
            // The same program is not enough: one started by hand with its own files
            // (`-f /srv/site.conf`) is not the script's daemon.
            None => {
                resolve_program(host, &d.cmdline[0]).is_some_and(|r| Some(r) == real_exe)
                    && names_the_same_files(host, &d.cmdline, &p.cmdline)
            }
        };
        matches.then_some(script)
    })
}

/// The script's command and the process's name the same existing files: a process started by
/// hand with its own configuration (`-C /srv/dnsmasq.conf`) is not the script's daemon.
fn names_the_same_files(host: &dyn Host, script: &[String], process: &[String]) -> bool {
    let files = |words: &[String]| -> std::collections::BTreeSet<String> {
        words
            .iter()
            .skip(1)
            .flat_map(|w| w.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|a| a.starts_with('/') && host.stat(Path::new(a)).is_ok_and(|m| m.is_file()))
            .collect()
    };
    files(script) == files(process)
}

/// A program name as the script's shell would find it (PATH of an init script).
pub fn resolve_program(host: &dyn Host, program: &str) -> Option<PathBuf> {
    if program.starts_with('/') {
        return host.real_path(Path::new(program)).ok();
    }
    [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(program))
    .find_map(|p| {
        host.real_path(&p)
            .ok()
            .filter(|r| host.stat(r).is_ok_and(|m| m.is_file()))
    })
}

/// Carries what the script sets into the draft, each with its reason.
pub fn apply(s: &Script, a: &Analyzer, d: &mut Draft) {
    let subject = s.path.clone();
    d.findings.push(Finding::info(
        &subject,
        "settings carried from the init script",
    ));
    for f in &s.sourced {
        d.findings
            .push(Finding::info(&subject, format!("settings read from {f}")));
    }
    for (kv, why) in &s.env {
        d.set_env(kv.clone());
        d.findings
            .push(Finding::info(&subject, format!("env {kv}: {why}")));
    }
    for (name, (limits, why)) in &s.rlimits {
        d.rlimits.insert(name.clone(), *limits);
        d.findings
            .push(Finding::info(&subject, format!("limit {name}: {why}")));
    }
    if let Some(umask) = &s.umask {
        d.findings.push(Finding::info(
            &subject,
            format!(
                "umask {umask}: not carried (the image's process starts with the engine's umask)"
            ),
        ));
    }
    let Some(daemon) = &s.daemon else {
        d.findings.push(Finding::warning(
            &subject,
            "no start command found in the script: the entrypoint comes from the process",
        ));
        return;
    };
    if let Some(user) = &daemon.user {
        d.user = Some(user.clone());
        d.vars.set(
            "user",
            vec![user.clone()],
            &format!("init script {}: user from {}", s.path, daemon.how),
        );
        d.findings.push(Finding::info(
            &subject,
            format!("user {user}: {}", daemon.how),
        ));
    }
    if let Some(group) = &daemon.group {
        d.vars.set(
            "group",
            vec![group.clone()],
            &format!("init script {}: group from {}", s.path, daemon.how),
        );
    }
    if let Some(dir) = daemon.chdir.as_ref().filter(|d| d.starts_with('/')) {
        d.workdir = Some(dir.clone());
        d.findings.push(Finding::info(
            &subject,
            format!("working directory {dir}: {}", daemon.how),
        ));
    }
    if let Some(p) = &daemon.pidfile {
        d.findings.push(Finding::info(
            &subject,
            format!("pid file {p}: {} (a container needs none)", daemon.how),
        ));
    }
    if a.runtime.entrypoint.is_empty() && !daemon.cmdline.is_empty() {
        d.entrypoint = Some(daemon.cmdline.clone());
        d.findings.push(Finding::info(
            &subject,
            format!("entrypoint {}: {}", daemon.cmdline.join(" "), daemon.how),
        ));
    }
    if daemon.background {
        d.findings.push(Finding::warning(&subject, format!("{}: the script sends the daemon to the background; the entrypoint must run it in the foreground (check the plan)", daemon.how)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::host::RootDir) {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let host = crate::host::at(dir.path());
        (dir, host)
    }

    #[test]
    fn debian_style_start_stop_daemon_with_defaults_file() {
        let script = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          lkdemo
# Default-Start:     2 3 4 5
### END INIT INFO
DAEMON=/usr/sbin/lkdemo
NAME=lkdemo
PIDFILE=/run/$NAME.pid
DAEMON_OPTS="--port 1"
[ -r /etc/default/$NAME ] && . /etc/default/$NAME
. /lib/lsb/init-functions
ulimit -n 4096
export LKDEMO_MODE=fast
case "$1" in
  start)
    start-stop-daemon --start --quiet --chuid lk:lkgrp --chdir /srv/lk \
        --pidfile $PIDFILE --exec $DAEMON -- $DAEMON_OPTS --extra
    ;;
  stop)
    start-stop-daemon --stop --quiet --pidfile $PIDFILE
    ;;
esac
"#;
        let (_d, host) = root(&[
            ("/etc/init.d/lkdemo", script),
            (
                "/etc/default/lkdemo",
                "DAEMON_OPTS=\"--port 7000\"\nexport TZ=UTC\n",
            ),
        ]);
        let s = read(&host, Path::new("/etc/init.d/lkdemo")).unwrap();
        assert_eq!(s.provides, ["lkdemo"]);
        let d = s.daemon.unwrap();
        assert_eq!(d.cmdline, ["/usr/sbin/lkdemo", "--port", "7000", "--extra"]);
        assert_eq!(d.user.as_deref(), Some("lk"));
        assert_eq!(d.group.as_deref(), Some("lkgrp"));
        assert_eq!(d.chdir.as_deref(), Some("/srv/lk"));
        assert_eq!(d.pidfile.as_deref(), Some("/run/lkdemo.pid"));
        assert!(
            d.how
                .starts_with("start-stop-daemon at /etc/init.d/lkdemo:16"),
            "{}",
            d.how
        );
        assert_eq!(s.rlimits["nofile"].0, (4096, 4096));
        let env: Vec<&str> = s.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(env, ["TZ=UTC", "LKDEMO_MODE=fast"]);
        assert!(s.sourced[0].starts_with("/etc/default/lkdemo"));
    }

    #[test]
    fn rhel_daemon_su_and_runuser() {
        let rhel = "prog=memcached\nexec=/usr/bin/memcached\n. /etc/rc.d/init.d/functions\n[ -f /etc/sysconfig/$prog ] && . /etc/sysconfig/$prog\nstart() {\n  daemon --pidfile ${PIDFILE:-/var/run/memcached.pid} --user=$USER $exec -p $PORT -d\n}\n";
        let (_d, host) = root(&[
            ("/etc/init.d/memcached", rhel),
            (
                "/etc/sysconfig/memcached",
                "PORT=\"11211\"\nUSER=\"memcached\"\n",
            ),
        ]);
        let d = read(&host, Path::new("/etc/init.d/memcached"))
            .unwrap()
            .daemon
            .unwrap();
        assert_eq!(d.cmdline, ["/usr/bin/memcached", "-p", "11211", "-d"]);
        assert_eq!(d.user.as_deref(), Some("memcached"));
        assert_eq!(d.pidfile.as_deref(), Some("/var/run/memcached.pid"));

        let su_script = "ulimit -Hn 8192\nsu - app -c \"/opt/app/bin/run --conf /etc/app.conf >/var/log/app.log 2>&1 &\"\n";
        let (_d2, host) = root(&[("/etc/init.d/app", su_script)]);
        let s = read(&host, Path::new("/etc/init.d/app")).unwrap();
        let d = s.daemon.unwrap();
        assert_eq!(d.cmdline, ["/opt/app/bin/run", "--conf", "/etc/app.conf"]);
        assert_eq!(d.user.as_deref(), Some("app"));
        assert!(d.background);
        assert_eq!(s.rlimits["nofile"].0, (8192, 8192));

        let (_d3, host) = root(&[("/etc/init.d/r", "runuser -u svc -- /usr/bin/svc --x\n")]);
        let d = read(&host, Path::new("/etc/init.d/r"))
            .unwrap()
            .daemon
            .unwrap();
        assert_eq!((d.cmdline.len(), d.user.as_deref()), (2, Some("svc")));
    }

    #[test]
    fn debians_own_redis_script_is_read_as_it_starts_redis() {
        let s = read(&crate::host::live(), Path::new("/etc/init.d/redis-server"))
            .expect("redis-server's init script (.ci/setup installs redis-server)");
        let d = s.daemon.unwrap();
        assert_eq!(
            d.cmdline,
            ["/usr/bin/redis-server", "/etc/redis/redis.conf"]
        );
        assert_eq!(
            (d.user.as_deref(), d.group.as_deref()),
            (Some("redis"), Some("redis"))
        );
        assert_eq!(d.pidfile.as_deref(), Some("/run/redis/redis-server.pid"));
        assert_eq!(s.provides, ["redis-server"]);
    }

    #[test]
    fn expansion_follows_the_shell() {
        let vars = BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("E".to_string(), String::new()),
        ]);
        assert_eq!(
            expand("x$A ${A}y ${B:-d$A} ${E:-e} '$A'", &vars),
            "x1 1y d1 e '$A'"
        );
    }
}
