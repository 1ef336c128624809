//! Analysis: which applications run on the host, and what each needs to run elsewhere.
//!
//! Reads a snapshot, the analyzers (knowledge as data) and file contents through a `Host`; writes
//! nothing. Its output is the plan.

mod app;
pub mod checksums;
mod connections;
mod detect;
pub(crate) mod draft;
mod environ;
mod evidence;
pub mod exclude;
pub mod facts;
mod fileset;
pub mod glob;
pub mod group;
pub mod hooks;
mod image;
mod packages;
mod resources;
mod rules;
pub mod secrets;
mod sources;
pub mod spec;
pub mod syntax;
pub mod systemd;
pub mod sysv;
mod users;
mod vars;

use crate::elf::{ResolveOptions, Resolver};
use crate::host::Host;
use crate::plan::{Plan, Source};
use crate::snapshot::Snapshot;
use rayon::prelude::*;

pub use group::Candidate;
pub use packages::PackageIndex;
pub(crate) use sources::entry::parse_shebang;
pub use spec::Analyzer;

/// Which applications to plan.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every application found (listening or started by a service unit).
    All,
    Names(Vec<String>),
    Pids(Vec<i32>),
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// x86-64 level the image must run on; default the source host's.
    pub cpu_level: Option<u8>,
    /// Recorded in the plan: where build reads file contents.
    pub source_root: String,
    pub snapshot_path: String,
    /// Paths never taken (`.liftignore`, `--exclude`); recorded in the plan.
    pub exclude: exclude::Excludes,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("no application named {name:?} on {host} (found: {found})")]
    NoSuchApp {
        name: String,
        host: String,
        found: String,
    },
    #[error(
        "{name:?} names {count} applications on {host}: {candidates}; choose one by its name \
         (--app {first}) or by a process (--pid PID)"
    )]
    Ambiguous {
        name: String,
        host: String,
        count: usize,
        /// `nginx-80 (pids 12,13)`, …
        candidates: String,
        first: String,
    },
    #[error("no process with pid {pid} on {host}")]
    NoSuchPid { pid: i32, host: String },
    #[error(
        "pid {pid} is {what} on {host}, not an application: give the pid of a program it runs"
    )]
    NotAnApp {
        pid: i32,
        host: String,
        what: &'static str,
    },
    #[error("no application found on {host}: nothing listens on a port or runs as a service")]
    NothingFound { host: String },
}

/// Everything one application's analysis reads. Shared across apps so each ELF object and each
/// dpkg list is parsed once per host.
pub struct Inputs<'a> {
    pub snapshot: &'a Snapshot,
    pub host: &'a dyn Host,
    pub analyzers: &'a [Analyzer],
    pub resolver: &'a Resolver,
    pub packages: &'a PackageIndex,
    pub excludes: &'a exclude::Excludes,
}

pub fn candidates(snapshot: &Snapshot, analyzers: &[Analyzer]) -> Vec<Candidate> {
    group::applications(snapshot, analyzers)
}

/// Selects the candidates named by `selection`; a pid outside every application still gets one,
/// made from its own process group, since the user asked for it.
pub fn select(
    snapshot: &Snapshot,
    analyzers: &[Analyzer],
    selection: &Selection,
) -> Result<Vec<Candidate>, AnalyzeError> {
    let all = candidates(snapshot, analyzers);
    let host = snapshot.host.hostname.clone();
    match selection {
        Selection::All if all.is_empty() => Err(AnalyzeError::NothingFound { host }),
        Selection::All => Ok(all),
        Selection::Names(names) => names.iter().map(|n| by_name(&all, n, &host)).collect(),
        Selection::Pids(pids) => pids
            .iter()
            .map(|&pid| {
                if pid == 1 {
                    return Err(AnalyzeError::NotAnApp {
                        pid,
                        host: host.clone(),
                        what: "the init process",
                    });
                }
                if let Some(c) = all.iter().find(|c| c.pids.contains(&pid)) {
                    return Ok(c.clone());
                }
                let p = snapshot
                    .process(pid)
                    .ok_or_else(|| AnalyzeError::NoSuchPid {
                        pid,
                        host: host.clone(),
                    })?;
                if p.exe.is_none() && p.cmdline.is_empty() {
                    return Err(AnalyzeError::NotAnApp {
                        pid,
                        host: host.clone(),
                        what: "a kernel thread",
                    });
                }
                Ok(lone_candidate(snapshot, analyzers, p))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(distinct),
    }
}

/// The candidate `name` names: its own name first, else the one application its analyzer (or
/// the name without an instance suffix) names. Several of them is an error listing them: lifting
/// the first would be a guess.
fn by_name(all: &[Candidate], name: &str, host: &str) -> Result<Candidate, AnalyzeError> {
    if let Some(c) = all.iter().find(|c| c.name == name) {
        return Ok(c.clone());
    }
    let of_kind: Vec<&Candidate> = all
        .iter()
        .filter(|c| {
            c.analyzer.as_deref() == Some(name)
                || c.name
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    match of_kind.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(AnalyzeError::NoSuchApp {
            name: name.to_string(),
            host: host.to_string(),
            found: found_names(all),
        }),
        several => Err(AnalyzeError::Ambiguous {
            name: name.to_string(),
            host: host.to_string(),
            count: several.len(),
            candidates: several
                .iter()
                .map(|c| {
                    let pids: Vec<String> = c.pids.iter().map(i32::to_string).collect();
                    format!("{} (pids {})", c.name, pids.join(","))
                })
                .collect::<Vec<_>>()
                .join(", "),
            first: several[0].name.clone(),
        }),
    }
}

/// One candidate per application however many of its pids were named, and distinct names: a
/// process outside the candidates (it listens on nothing liftkit could see) may share its name
/// with one inside, and two apps of one name would be built into the same directory.
fn distinct(selected: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for mut c in selected {
        if out.iter().any(|o| o.pids == c.pids) {
            continue;
        }
        if out.iter().any(|o| o.name == c.name) {
            c.name = format!("{}-{}", c.name, c.root_pid());
        }
        out.push(c);
    }
    out
}

fn found_names(all: &[Candidate]) -> String {
    if all.is_empty() {
        "nothing".to_string()
    } else {
        all.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn lone_candidate(
    snapshot: &Snapshot,
    analyzers: &[Analyzer],
    p: &crate::snapshot::Process,
) -> Candidate {
    let mut pids: Vec<i32> = vec![p.pid];
    pids.extend(
        snapshot
            .processes
            .iter()
            .filter(|c| c.ppid == p.pid && c.exe == p.exe)
            .map(|c| c.pid),
    );
    let name = p
        .exe
        .as_deref()
        .and_then(|e| e.rsplit('/').next())
        .unwrap_or(&p.comm)
        .to_string();
    Candidate {
        name: crate::plan::slug(&name),
        listen: Vec::new(),
        exe: p.exe.clone(),
        user: snapshot
            .user_by_uid(p.uids[1])
            .map_or_else(|| p.uids[1].to_string(), |u| u.name.clone()),
        unit: p.unit.clone(),
        analyzer: detect::detect(p, snapshot, analyzers).map(|a| a.id.clone()),
        parent: Some(p.ppid.to_string()),
        pids,
    }
}

/// The plan for the selected applications, analyzed in parallel.
pub fn plan(
    snapshot: &Snapshot,
    host: &dyn Host,
    analyzers: &[Analyzer],
    selected: &[Candidate],
    opts: &Options,
) -> Plan {
    let cpu_level = opts
        .cpu_level
        .or(Some(snapshot.host.cpu_level).filter(|l| *l > 0));
    let resolver = Resolver::new(host, ResolveOptions { cpu_level });
    let packages = PackageIndex::load(host);
    let inputs = Inputs {
        snapshot,
        host,
        analyzers,
        resolver: &resolver,
        packages: &packages,
        excludes: &opts.exclude,
    };
    let mut apps: Vec<_> = selected
        .par_iter()
        .map(|c| app::analyze(&inputs, c))
        .map(|mut a| {
            a.packages = packages_used(snapshot, &a);
            a
        })
        .collect();
    connections::link(snapshot, &mut apps);
    let h = &snapshot.host;
    Plan {
        schema: crate::plan::SCHEMA_VERSION,
        source: Source {
            hostname: h.hostname.clone(),
            os: h
                .os_release
                .get("PRETTY_NAME")
                .cloned()
                .unwrap_or_else(|| "unknown".to_string()),
            os_id: h.os_release.get("ID").cloned().unwrap_or_default(),
            os_version_id: h.os_release.get("VERSION_ID").cloned().unwrap_or_default(),
            kernel: h.kernel.clone(),
            root: opts.source_root.clone(),
            snapshot: opts.snapshot_path.clone(),
            packages_count: snapshot.packages.len(),
            sysctls: h.sysctls.clone(),
            boot_cmdline: h.boot_cmdline.clone(),
            cpu_level: h.cpu_level,
        },
        exclude: opts.exclude.rules.clone(),
        apps,
    }
}

/// The snapshot's record of each package the app's files come from, sorted by name.
fn packages_used(snapshot: &Snapshot, app: &crate::plan::AppPlan) -> Vec<crate::plan::PackageUse> {
    let names: std::collections::BTreeSet<&str> = app
        .files
        .iter()
        .filter_map(|f| f.package.as_deref())
        .collect();
    names
        .into_iter()
        .filter_map(|n| snapshot.package(n))
        .map(|p| crate::plan::PackageUse {
            name: p.name.clone(),
            version: p.version.clone(),
            installed_kib: p.installed_kib,
            arch: p.arch.clone(),
            source: p.source.clone(),
        })
        .collect()
}
