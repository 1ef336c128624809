//! Grouping processes into applications: a master and its workers, everything one unit started.

use super::spec::Analyzer;
use crate::snapshot::{Process, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;

/// One application found on the host, before analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub name: String,
    /// The process that started the others (the master), first; then the rest by pid.
    pub pids: Vec<i32>,
    pub exe: Option<String>,
    pub user: String,
    pub unit: Option<String>,
    /// `127.0.0.1:8080/tcp` for every listening socket the group holds.
    pub listen: Vec<String>,
    pub analyzer: Option<String>,
    /// The parent of the master, as `pid comm`, when no unit started it.
    pub parent: Option<String>,
}

impl Candidate {
    pub fn root_pid(&self) -> i32 {
        self.pids[0]
    }
}

/// Units that are the operating system rather than an application someone would lift.
const SYSTEM_UNIT_PREFIXES: &[&str] = &["systemd-", "dbus", "user@", "getty@", "serial-getty@"];

pub fn applications(snapshot: &Snapshot, analyzers: &[Analyzer]) -> Vec<Candidate> {
    let by_pid: BTreeMap<i32, &Process> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
    let mut groups: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in &snapshot.processes {
        groups
            .entry(group_root(p, &by_pid))
            .or_default()
            .push(p.pid);
    }
    let mut found: Vec<Candidate> = groups
        .into_iter()
        .filter_map(|(root, mut pids)| {
            pids.sort_by_key(|&p| (p != root, p));
            candidate(snapshot, &by_pid, pids, analyzers)
        })
        .collect();
    disambiguate(&mut found);
    found
}

/// Climbs while the parent runs the same executable or belongs to the same service unit: that is
/// how masters and workers, and the processes of one unit, hang together.
fn group_root(p: &Process, by_pid: &BTreeMap<i32, &Process>) -> i32 {
    let mut current = p;
    let mut steps = 0;
    while let Some(parent) = by_pid.get(&current.ppid) {
        steps += 1;
        if parent.pid <= 1 || steps > 64 {
            break;
        }
        let same_exe = parent.exe.is_some() && parent.exe == current.exe;
        let same_unit = current
            .unit
            .as_deref()
            .is_some_and(|u| u.ends_with(".service"))
            && parent.unit == current.unit;
        if !(same_exe || same_unit) {
            break;
        }
        current = parent;
    }
    current.pid
}

fn candidate(
    snapshot: &Snapshot,
    by_pid: &BTreeMap<i32, &Process>,
    pids: Vec<i32>,
    analyzers: &[Analyzer],
) -> Option<Candidate> {
    let root = by_pid.get(&pids[0])?;
    let mut listen: Vec<String> = snapshot
        .sockets_of(&pids)
        .map(|s| {
            format!(
                "{}/{}",
                socket_address(&s.address, s.port),
                s.proto.trim_end_matches('6')
            )
        })
        .collect();
    listen.sort();
    listen.dedup();
    let service = root
        .unit
        .as_deref()
        .filter(|u| u.ends_with(".service"))
        .filter(|u| !SYSTEM_UNIT_PREFIXES.iter().any(|p| u.starts_with(p)));
    // A disk's declared processes are what it says would run: each is an application.
    if listen.is_empty() && service.is_none() && root.declared.is_none() {
        return None;
    }
    if pids.contains(&(std::process::id() as i32)) {
        return None;
    }
    let analyzer = super::detect::detect(root, snapshot, analyzers).map(|a| a.id.clone());
    let base_name = analyzer
        .clone()
        .or_else(|| service.map(|u| u.trim_end_matches(".service").to_string()))
        .or_else(|| root.exe.as_deref().and_then(basename))
        .unwrap_or_else(|| root.comm.clone());
    let user = snapshot
        .user_by_uid(root.uids[1])
        .map_or_else(|| root.uids[1].to_string(), |u| u.name.clone());
    let parent = (service.is_none()).then(|| {
        by_pid.get(&root.ppid).map_or_else(
            || format!("{}", root.ppid),
            |p| format!("{} {}", p.pid, p.comm),
        )
    });
    Some(Candidate {
        name: crate::plan::slug(&base_name),
        pids,
        exe: root.exe.clone(),
        user,
        unit: root.unit.clone(),
        listen,
        analyzer,
        parent,
    })
}

fn socket_address(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn basename(path: &str) -> Option<String> {
    path.rsplit('/').next().map(str::to_string)
}

/// Two instances of one application get distinct names: the first listening port, else the pid.
fn disambiguate(found: &mut [Candidate]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in found.iter() {
        *counts.entry(c.name.clone()).or_default() += 1;
    }
    for c in found.iter_mut() {
        if counts[&c.name] > 1 {
            let suffix = c
                .listen
                .first()
                .and_then(|l| l.rsplit_once(':'))
                .and_then(|(_, port)| port.split('/').next())
                .map_or_else(|| c.root_pid().to_string(), str::to_string);
            c.name = format!("{}-{suffix}", c.name);
        }
    }
}
