//! The systemd unit that started a service: what a container can express of it is carried into
//! the draft (foreground command, environment, working directory, limits, capabilities, state,
//! log and runtime directories, stop signal, restart policy); what it cannot is said.

use super::draft::Draft;
use super::spec::Analyzer;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{Role, Volume, VolumeKind};
use std::path::{Path, PathBuf};

/// Where systemd looks for units, most specific first.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
const MAX_UNIT_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct Unit {
    pub name: String,
    pub path: PathBuf,
    /// (section, key, value) in file order, drop-ins after the unit.
    entries: Vec<(String, String, String)>,
    /// `.socket` and `.timer` units of the same name: activation a container cannot carry.
    activators: Vec<String>,
}

impl Unit {
    /// Every value of a key; an empty assignment resets the list, as systemd reads it.
    pub fn all(&self, section: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (s, k, v) in &self.entries {
            if s == section && k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.as_str());
                }
            }
        }
        out
    }

    pub fn last(&self, section: &str, key: &str) -> Option<&str> {
        self.all(section, key).pop()
    }
}

pub fn read(host: &dyn Host, unit: Option<&str>, findings: &mut Vec<Finding>) -> Option<Unit> {
    let name = unit?.to_string();
    if !name.ends_with(".service") {
        return None;
    }
    let path = UNIT_DIRS
        .iter()
        .map(|d| PathBuf::from(d).join(&name))
        .find(|p| host.exists(p));
    let Some(path) = path else {
        findings.push(Finding::warning(
            &name,
            "unit file not found in the systemd unit directories",
        ));
        return None;
    };
    let stem = name.trim_end_matches(".service");
    let activators = ["socket", "timer"]
        .iter()
        .map(|kind| format!("{stem}.{kind}"))
        .filter(|other| {
            UNIT_DIRS
                .iter()
                .any(|d| host.exists(&Path::new(d).join(other)))
        })
        .collect();
    let mut u = Unit {
        name: name.clone(),
        path: path.clone(),
        entries: Vec::new(),
        activators,
    };
    parse_into(host, &path, &mut u);
    for dir in UNIT_DIRS {
        let dropins = Path::new(dir).join(format!("{name}.d"));
        for f in host.read_dir(&dropins).unwrap_or_default() {
            if f.to_string_lossy().ends_with(".conf") {
                parse_into(host, &dropins.join(f), &mut u);
            }
        }
    }
    Some(u)
}

fn parse_into(host: &dyn Host, path: &Path, u: &mut Unit) {
    let Ok(bytes) = host.read_limited(path, MAX_UNIT_BYTES) else {
        return;
    };
    u.entries.extend(parse(&String::from_utf8_lossy(&bytes)));
}

/// INI as systemd writes it: `[Section]`, `Key=Value`, `#`/`;` comments, `\` continuations.
pub fn parse(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with(';') || line.is_empty())
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        if full.starts_with('[') && full.ends_with(']') {
            section = full[1..full.len() - 1].to_string();
        } else if let Some((k, v)) = full.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// Splits a command line the way systemd does for ExecStart: words, quotes, backslash escapes.
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

pub fn apply(u: &Unit, a: &Analyzer, d: &mut Draft) {
    let svc = "Service";
    let from = |key: &str| format!("unit {}: {key}", u.name);
    d.findings.push(Finding::info(
        &u.name,
        format!("settings carried from the unit file {}", u.path.display()),
    ));
    if let Some(exec) = u.last(svc, "ExecStart") {
        let cmd = split_command(exec.trim_start_matches(['-', '@', ':', '+', '!']));
        let forking = u.last(svc, "Type") == Some("forking");
        if forking {
            d.findings.push(Finding::warning(
                &u.name,
                "Type=forking: the service detaches into the background; the entrypoint must run it \
                 in the foreground (check the plan)",
            ));
        } else if a.runtime.entrypoint.is_empty() && !cmd.is_empty() {
            d.entrypoint = Some(cmd);
        }
    }
    for assignment in u.all(svc, "Environment") {
        for kv in split_command(assignment) {
            if kv.contains('=') {
                d.set_env(kv);
            }
        }
    }
    for file in u.all(svc, "EnvironmentFile") {
        d.findings.push(Finding::info(
            &u.name,
            format!("EnvironmentFile={file}: its variables are read from the process environment"),
        ));
    }
    if let Some(dir) = u.last(svc, "WorkingDirectory") {
        let dir = dir.trim_start_matches('-');
        if dir.starts_with('/') {
            d.workdir = Some(dir.to_string());
        }
    }
    if let Some(user) = u.last(svc, "User") {
        d.user = Some(user.to_string());
        d.vars.set("user", vec![user.to_string()], &from("User"));
    }
    if let Some(group) = u.last(svc, "Group") {
        d.vars.set("group", vec![group.to_string()], &from("Group"));
    }
    for (key, limit) in [
        ("LimitNOFILE", "nofile"),
        ("LimitNPROC", "nproc"),
        ("LimitCORE", "core"),
        ("LimitMEMLOCK", "memlock"),
    ] {
        if let Some(v) = u.last(svc, key).and_then(parse_limit) {
            d.rlimits.insert(limit.to_string(), v);
        }
    }
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        for caps in u.all(svc, key) {
            for cap in caps.split_whitespace().filter(|c| !c.starts_with('~')) {
                if !d.capabilities.iter().any(|c| c == cap) {
                    d.capabilities.push(cap.to_string());
                }
            }
        }
    }
    for (key, base, kind) in [
        ("StateDirectory", "/var/lib", VolumeKind::Volume),
        ("RuntimeDirectory", "/run", VolumeKind::Tmpfs),
        ("CacheDirectory", "/var/cache", VolumeKind::Tmpfs),
    ] {
        for names in u.all(svc, key) {
            for name in names.split_whitespace() {
                d.add_volume(Volume {
                    path: format!("{base}/{}", name.split(':').next().unwrap_or(name)),
                    kind,
                    populate: kind == VolumeKind::Volume,
                    populate_with: None,
                    live_writes: None,
                    scratch: false,
                    why: from(key),
                });
            }
        }
    }
    for paths in u.all(svc, "ReadWritePaths") {
        for p in paths
            .split_whitespace()
            .map(|p| p.trim_start_matches(['-', '+']))
        {
            writable_path(d, p, &from("ReadWritePaths"));
        }
    }
    for names in u.all(svc, "LogsDirectory") {
        for name in names.split_whitespace() {
            d.add_dir(format!("/var/log/{name}"), from("LogsDirectory"));
        }
    }
    for names in u.all(svc, "ConfigurationDirectory") {
        for name in names.split_whitespace() {
            d.files.add(
                &format!("/etc/{name}"),
                Role::Config,
                from("ConfigurationDirectory"),
            );
        }
    }
    if let Some(sig) = u.last(svc, "KillSignal") {
        let sig = if sig.starts_with("SIG") {
            sig.to_string()
        } else {
            format!("SIG{sig}")
        };
        d.stop_signal = Some(sig);
    }
    if let Some(restart) = u.last(svc, "Restart") {
        d.restart = Some(
            match restart {
                "always" => "always",
                "no" => "no",
                _ => "on-failure",
            }
            .to_string(),
        );
    }
    not_carried(u, d);
}

/// A path the service may write: state is kept, logs go to the engine, runtime files are
/// scratch.
fn writable_path(d: &mut Draft, path: &str, why: &str) {
    if path.starts_with("/var/log/") {
        d.add_dir(path, why);
        return;
    }
    let scratch = ["/run/", "/var/run/", "/tmp/", "/var/tmp/"]
        .iter()
        .any(|p| path.starts_with(p));
    let kind = if scratch {
        VolumeKind::Tmpfs
    } else {
        VolumeKind::Volume
    };
    d.add_volume(Volume {
        path: path.to_string(),
        kind,
        populate: kind == VolumeKind::Volume,
        populate_with: None,
        live_writes: None,
        scratch: false,
        why: why.to_string(),
    });
}

/// Ordering, activation and scheduling belong to the host's init system, not to an image.
fn not_carried(u: &Unit, d: &mut Draft) {
    for key in [
        "After",
        "Before",
        "Requires",
        "Wants",
        "BindsTo",
        "PartOf",
        "Requisite",
    ] {
        // Targets (network.target, multi-user.target) are the host's boot stages, not services.
        let deps: Vec<&str> = u
            .all("Unit", key)
            .iter()
            .flat_map(|v| v.split_whitespace())
            .filter(|d| !d.ends_with(".target"))
            .collect();
        if !deps.is_empty() {
            d.findings.push(Finding::info(
                &u.name,
                format!("{key}={}: ordering between units is not carried into the image; start the lifted services in that order", deps.join(" ")),
            ));
        }
    }
    for other in &u.activators {
        let what = if other.ends_with(".socket") {
            "socket activation"
        } else {
            "a timer"
        };
        d.findings.push(Finding::warning(
            &u.name,
            format!("{other}: {what} cannot be carried into a container; the service must listen (or be scheduled) on its own"),
        ));
    }
}

fn parse_limit(v: &str) -> Option<(u64, u64)> {
    let num = |s: &str| {
        if s == "infinity" {
            Some(u64::MAX)
        } else {
            s.parse().ok()
        }
    };
    match v.split_once(':') {
        Some((soft, hard)) => Some((num(soft)?, num(hard)?)),
        None => num(v).map(|n| (n, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_continuations_resets_and_quotes() {
        let text = "[Service]\nEnvironment=\"A=1 2\" B=3\nExecStart=/bin/false\nExecStart=\n\
                    ExecStart=/opt/v/bin/app \\\n  --config /etc/v.conf\n# c\nLimitNOFILE=1024:4096\n";
        let u = Unit {
            entries: parse(text),
            ..Unit::default()
        };
        assert_eq!(
            u.all("Service", "ExecStart"),
            vec!["/opt/v/bin/app  --config /etc/v.conf"]
        );
        assert_eq!(
            split_command(u.last("Service", "ExecStart").unwrap()),
            ["/opt/v/bin/app", "--config", "/etc/v.conf"]
        );
        assert_eq!(
            split_command(u.last("Service", "Environment").unwrap()),
            ["A=1 2", "B=3"]
        );
        assert_eq!(parse_limit("1024:4096"), Some((1024, 4096)));
        assert_eq!(parse_limit("infinity"), Some((u64::MAX, u64::MAX)));
    }
}
