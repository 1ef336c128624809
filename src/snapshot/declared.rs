//! Applications a powered-off disk says would run, as *declared* processes: enabled systemd
//! units (`*.wants/` links), SysV runlevel links (`/etc/rcN.d/S*`), cron `@reboot` lines, and
//! installed packages an analyzer knows. Each gets the command line, user, working directory,
//! environment and limits its declaration gives (a unit's `EnvironmentFile=`, often under
//! `/etc/sysconfig`, read from the disk), and says where they came from. None of it is observed:
//! the trial run supplies what a declaration misses.
//!
//! Declared processes are numbered from [`FIRST_PID`], above the kernel's largest pid, so no
//! number can be mistaken for a real process.

use super::{Package, Process, User};
use crate::analyze::spec::Analyzer;
use crate::analyze::{systemd, sysv};
use crate::findings::Finding;
use crate::host::Host;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `PID_MAX_LIMIT` is 2^22: declared processes start just past it.
pub const FIRST_PID: i32 = (1 << 22) + 1;
const WANTS_ROOT: &str = "/etc/systemd/system";
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
/// The runlevels a server boots into: 3 (RHEL), 2 (Debian), 5 (graphical).
const RUNLEVELS: &[&str] = &["3", "2", "5"];

struct Found {
    cmdline: Vec<String>,
    user: Option<String>,
    group: Option<String>,
    cwd: Option<String>,
    env: Vec<String>,
    limits: BTreeMap<String, (Option<u64>, Option<u64>)>,
    unit: Option<String>,
    declared: String,
}

pub fn processes(
    host: &dyn Host,
    users: &[User],
    groups: &[super::Group],
    packages: &[Package],
    analyzers: &[Analyzer],
    findings: &mut Vec<Finding>,
) -> Vec<Process> {
    let mut found = units(host, findings);
    let unit_names: Vec<String> = found.iter().filter_map(|f| f.unit.clone()).collect();
    found.extend(runlevel_scripts(host, &unit_names, findings));
    found.extend(cron_reboot(host));
    let mut procs: Vec<Process> = Vec::new();
    for f in found {
        if let Some(p) = process(
            host,
            f,
            users,
            groups,
            FIRST_PID + procs.len() as i32,
            findings,
        ) {
            procs.push(p);
        }
    }
    for p in by_package(host, packages, analyzers, &procs) {
        if let Some(p) = process(
            host,
            p,
            users,
            groups,
            FIRST_PID + procs.len() as i32,
            findings,
        ) {
            procs.push(p);
        }
    }
    procs
}

fn process(
    host: &dyn Host,
    f: Found,
    users: &[User],
    groups: &[super::Group],
    pid: i32,
    findings: &mut Vec<Finding>,
) -> Option<Process> {
    let program = f.cmdline.first()?;
    let Some(exe) = sysv::resolve_program(host, program) else {
        findings.push(Finding::warning(
            &f.declared,
            format!("{program}: not found on the disk; not an application"),
        ));
        return None;
    };
    let user = f.user.as_deref().unwrap_or("root");
    let account = users
        .iter()
        .find(|u| u.name == user || u.uid.to_string() == user);
    let uid = account.map_or(0, |u| u.uid);
    let gid = f
        .group
        .as_deref()
        .and_then(|g| groups.iter().find(|x| x.name == g))
        .map(|g| g.gid)
        .or(account.map(|u| u.gid))
        .unwrap_or(0);
    if account.is_none() && f.user.is_some() {
        findings.push(Finding::warning(
            &f.declared,
            format!("user {user} is not in the disk's /etc/passwd"),
        ));
    }
    let exe = exe.display().to_string();
    let comm: String = exe
        .rsplit('/')
        .next()
        .unwrap_or(&exe)
        .chars()
        .take(15)
        .collect();
    Some(Process {
        pid,
        ppid: 0,
        comm,
        exe: Some(exe),
        cmdline: f.cmdline,
        cwd: Some(f.cwd.unwrap_or_else(|| "/".into())),
        environ: f.env,
        uids: [uid; 4],
        gids: [gid; 4],
        unit: f.unit,
        limits: f.limits,
        declared: Some(f.declared),
        ..Process::default()
    })
}

/// Enabled service units: the `*.wants/` links under /etc/systemd/system.
fn units(host: &dyn Host, findings: &mut Vec<Finding>) -> Vec<Found> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for dir in host.read_dir(Path::new(WANTS_ROOT)).unwrap_or_default() {
        let dir = dir.to_string_lossy().into_owned();
        if !dir.ends_with(".wants") {
            continue;
        }
        let wants = Path::new(WANTS_ROOT).join(&dir);
        for name in host.read_dir(&wants).unwrap_or_default() {
            let name = name.to_string_lossy().into_owned();
            if !name.ends_with(".service") || seen.contains(&name) || is_system_unit(&name) {
                continue;
            }
            seen.push(name.clone());
            let mut notes = Vec::new();
            let Some(unit) = systemd::read(host, Some(&name), &mut notes) else {
                findings.extend(notes);
                continue;
            };
            if let Some(f) = from_unit(host, &unit, &wants.join(&name), findings) {
                out.push(f);
            }
        }
    }
    out
}

/// The host's own plumbing, as group.rs leaves out of a live host's applications.
fn is_system_unit(name: &str) -> bool {
    [
        "systemd-",
        "dbus",
        "getty@",
        "serial-getty@",
        "user@",
        "e2scrub",
        "fstrim",
        "apt-daily",
        "man-db",
        "logrotate",
        "networking",
        "NetworkManager",
        "ifup@",
        "console-",
        "keyboard-",
        "kmod",
        "udev",
        "rsyslog",
        "remote-fs",
        "dm-event",
        "lvm2",
        "multipathd",
        "auditd",
        "chronyd",
        "tuned",
        "kdump",
        "irqbalance",
        "firewalld",
        "sssd",
        "polkit",
        "crond",
        "cron.",
        "atd",
        "sshd",
        "ssh.",
        "getty",
        "rhsmcertd",
        "dnf-makecache",
        "selinux-",
        "import-state",
        "nis-domainname",
        "loadmodules",
        // SysV boot plumbing.
        "procps",
        "hwclock",
        "sendsigs",
        "umount",
        "urandom",
        "bootlogd",
        "halt",
        "reboot",
        "single",
        "killprocs",
        "rc.local",
        "rmnologin",
        "mountall",
        "mountnfs",
        "checkfs",
        "checkroot",
        "bootmisc",
        "x11-common",
        "netfs",
        "network",
        "sysstat",
        "iptables",
        "ip6tables",
        "messagebus",
        "haldaemon",
        "cpuspeed",
        "acpid",
        "portmap",
        "rpcbind",
        "nfslock",
        "autofs",
        "ntpd",
        "ntpdate",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn from_unit(
    host: &dyn Host,
    u: &systemd::Unit,
    link: &Path,
    findings: &mut Vec<Finding>,
) -> Option<Found> {
    let svc = "Service";
    if u.last(svc, "Type") == Some("oneshot") {
        return None;
    }
    let declared = format!("systemd unit {} enabled ({})", u.name, link.display());
    let mut env: Vec<String> = Vec::new();
    let set = |env: &mut Vec<String>, kv: String| {
        let k = kv.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(k.as_str()));
        env.push(kv);
    };
    for a in u.all(svc, "Environment") {
        for kv in systemd::split_command(a)
            .into_iter()
            .filter(|kv| kv.contains('='))
        {
            set(&mut env, kv);
        }
    }
    for file in u.all(svc, "EnvironmentFile") {
        let optional = file.starts_with('-');
        let path = file.trim_start_matches('-');
        match host.read_to_string(Path::new(path)) {
            Ok(text) => {
                let vars = env_file(&text);
                findings.push(Finding::info(
                    &u.name,
                    format!(
                        "EnvironmentFile={path}: {} variables read from the disk",
                        vars.len()
                    ),
                ));
                for kv in vars {
                    set(&mut env, kv);
                }
            }
            Err(_) if optional => {}
            Err(e) => findings.push(Finding::warning(
                &u.name,
                format!("EnvironmentFile={path}: {e}"),
            )),
        }
    }
    let exec = u.last(svc, "ExecStart")?;
    let vars: BTreeMap<String, String> = env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cmdline = expand_exec(exec.trim_start_matches(['-', '@', ':', '+', '!']), &vars);
    let mut limits = BTreeMap::new();
    if let Some((s, h)) = u.last(svc, "LimitNOFILE").and_then(parse_limit) {
        limits.insert("Max open files".to_string(), (s, h));
    }
    Some(Found {
        cmdline,
        user: u.last(svc, "User").map(str::to_string),
        group: u.last(svc, "Group").map(str::to_string),
        cwd: u
            .last(svc, "WorkingDirectory")
            .map(|d| d.trim_start_matches('-').to_string())
            .filter(|d| d.starts_with('/')),
        env,
        limits,
        unit: Some(u.name.clone()),
        declared,
    })
}

/// systemd's expansion in ExecStart: `${VAR}` in place, `$VAR` alone split into words.
fn expand_exec(exec: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for word in systemd::split_command(exec) {
        if let Some(name) = word
            .strip_prefix('$')
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            out.extend(
                vars.get(name)
                    .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        } else {
            out.push(sysv::expand(&word, vars));
        }
    }
    out
}

/// `KEY=VALUE` lines of an environment file (`/etc/sysconfig/httpd`, `/etc/default/redis`).
pub fn env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = shlex::split(v)
                .map(|w| w.join(" "))
                .unwrap_or_else(|| v.to_string());
            Some(format!("{}={v}", k.trim()))
        })
        .collect()
}

fn parse_limit(v: &str) -> Option<(Option<u64>, Option<u64>)> {
    let num = |s: &str| {
        if s == "infinity" {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    match v.split_once(':') {
        Some((s, h)) => Some((num(s)?, num(h)?)),
        None => num(v).map(|n| (n, n)),
    }
}

/// Scripts a SysV runlevel starts, unless a native unit of the same name exists: systemd then
/// ignores the script, and so does liftkit.
fn runlevel_scripts(host: &dyn Host, units: &[String], findings: &mut Vec<Finding>) -> Vec<Found> {
    let level = default_runlevel(host);
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for rl in level
        .iter()
        .map(String::as_str)
        .chain(RUNLEVELS.iter().copied())
    {
        let dir = PathBuf::from(format!("/etc/rc{rl}.d"));
        let dir = if host.exists(&dir) {
            dir
        } else {
            PathBuf::from(format!("/etc/rc.d/rc{rl}.d"))
        };
        for link in host.read_dir(&dir).unwrap_or_default() {
            let link = link.to_string_lossy().into_owned();
            let Some(name) = link
                .strip_prefix('S')
                .map(|n| n.trim_start_matches(|c: char| c.is_ascii_digit()))
            else {
                continue;
            };
            let script = Path::new(sysv::INIT_DIR).join(name);
            let native = format!("{name}.service");
            if seen.iter().any(|s| s == name)
                || units.contains(&native)
                || UNIT_DIRS
                    .iter()
                    .any(|d| host.exists(&Path::new(d).join(&native)))
                || is_system_unit(name)
            {
                continue;
            }
            seen.push(name.to_string());
            let Some(s) = sysv::read(host, &script) else {
                continue;
            };
            let Some(d) = s.daemon.clone() else {
                findings.push(Finding::info(
                    script.display().to_string(),
                    "started at boot, but no daemon command found in it",
                ));
                continue;
            };
            let mut limits = BTreeMap::new();
            if let Some(((soft, hard), _)) = s.rlimits.get("nofile") {
                let f = |v: u64| (v != u64::MAX).then_some(v);
                limits.insert("Max open files".to_string(), (f(*soft), f(*hard)));
            }
            out.push(Found {
                cmdline: d.cmdline,
                user: d.user,
                group: d.group,
                cwd: d.chdir,
                env: s.env.iter().map(|(kv, _)| kv.clone()).collect(),
                limits,
                unit: None,
                declared: format!(
                    "SysV init script {} (runlevel link {}/{link}; {})",
                    script.display(),
                    dir.display(),
                    d.how
                ),
            });
        }
    }
    out
}

fn default_runlevel(host: &dyn Host) -> Option<String> {
    let text = host.read_to_string(Path::new("/etc/inittab")).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[2] == "initdefault").then(|| f[1].to_string())
    })
}

/// `@reboot` lines of the system crontab, `/etc/cron.d` and the users' crontabs.
fn cron_reboot(host: &dyn Host) -> Vec<Found> {
    let mut files: Vec<(PathBuf, Option<String>)> = vec![(PathBuf::from("/etc/crontab"), None)];
    for n in host.read_dir(Path::new("/etc/cron.d")).unwrap_or_default() {
        files.push((Path::new("/etc/cron.d").join(n), None));
    }
    for dir in ["/var/spool/cron/crontabs", "/var/spool/cron"] {
        for n in host.read_dir(Path::new(dir)).unwrap_or_default() {
            let user = n.to_string_lossy().into_owned();
            files.push((Path::new(dir).join(&n), Some(user)));
        }
    }
    let mut out = Vec::new();
    for (file, owner) in files {
        let Ok(text) = host.read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let Some(rest) = line.trim().strip_prefix("@reboot") else {
                continue;
            };
            let mut words = shlex::split(rest).unwrap_or_default();
            let user = match &owner {
                Some(u) => u.clone(),
                None if !words.is_empty() => words.remove(0),
                None => continue,
            };
            // The first simple command: what cron's shell starts.
            let cmd: Vec<String> = words
                .into_iter()
                .take_while(|w| {
                    !matches!(w.as_str(), ";" | "&&" | "||" | "|" | "&") && !w.starts_with('>')
                })
                .collect();
            if cmd.is_empty() {
                continue;
            }
            out.push(Found {
                cmdline: cmd,
                user: Some(user),
                group: None,
                cwd: None,
                env: Vec::new(),
                limits: BTreeMap::new(),
                unit: None,
                declared: format!("cron @reboot at {}:{}", file.display(), n + 1),
            });
        }
    }
    out
}

/// Installed packages an analyzer knows, when nothing declared already starts that analyzer's
/// program: installed but not enabled, it may still be what the server is for.
fn by_package(
    host: &dyn Host,
    packages: &[Package],
    analyzers: &[Analyzer],
    already: &[Process],
) -> Vec<Found> {
    let mut out = Vec::new();
    for a in analyzers {
        let Some(pkg) = a
            .detect
            .packages
            .iter()
            .find(|p| packages.iter().any(|i| &i.name == *p))
        else {
            continue;
        };
        let names: Vec<&str> = a
            .detect
            .exe
            .iter()
            .filter_map(|g| g.rsplit('/').next())
            .filter(|n| !n.contains(['*', '?', '[']))
            .collect();
        let covered = already.iter().any(|p| {
            p.exe
                .as_deref()
                .is_some_and(|e| names.iter().any(|n| e.ends_with(&format!("/{n}"))))
        });
        if covered {
            continue;
        }
        let Some(program) = names
            .iter()
            .find(|n| sysv::resolve_program(host, n).is_some())
        else {
            continue;
        };
        out.push(Found {
            cmdline: vec![program.to_string()],
            user: None,
            group: None,
            cwd: None,
            env: Vec::new(),
            limits: BTreeMap::new(),
            unit: None,
            declared: format!(
                "package {pkg} installed (analyzer {}); not enabled at boot",
                a.id
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_expansion_and_env_files() {
        let vars = BTreeMap::from([
            ("OPTIONS".to_string(), "-D A -D B".to_string()),
            ("P".to_string(), "8080".to_string()),
        ]);
        assert_eq!(
            expand_exec("/usr/sbin/httpd $OPTIONS -p ${P} -DFOREGROUND", &vars),
            [
                "/usr/sbin/httpd",
                "-D",
                "A",
                "-D",
                "B",
                "-p",
                "8080",
                "-DFOREGROUND"
            ]
        );
        assert_eq!(
            env_file("# c\nOPTIONS=\"-D X\"\nexport LANG=C\n\n"),
            ["OPTIONS=-D X", "LANG=C"]
        );
    }
}
