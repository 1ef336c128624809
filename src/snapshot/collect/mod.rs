//! The read-only inventory of the live host: processes, sockets, users, packages and kernel facts.
//!
//! Read-only is absolute: nothing here writes, signals, spawns or changes an access time (files
//! outside `/proc` and `/sys` are opened with `O_NOATIME`). A real host is never fully readable, so
//! nothing here fails as a whole either: what cannot be read becomes a finding, or an entry in a
//! process's `unreadable` list, and the rest of the snapshot is still written.

mod accounts;
mod addrs;
mod capacity;
mod dpkg;
pub mod offline;
mod processes;
pub mod rpm;
pub mod selinux;
mod sockets;
mod sysctl;
mod system;

use super::{Snapshot, SCHEMA_VERSION};
use crate::findings::Finding;
use std::io::{self, Read};
use std::path::Path;

pub use accounts::{parse_group, parse_passwd};
pub use dpkg::parse_status as parse_dpkg_status;
pub use processes::unit_from_cgroup;
pub use system::cpu_level_from_flags;

/// What `collect` reads beyond the always-collected inventory.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Process environments often hold secrets; a consultant may be asked to leave them behind.
    pub include_environ: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            include_environ: true,
        }
    }
}

/// Takes the inventory of the running host. `progress(done, total)` is called from this thread
/// once per process examined. Never panics on what it finds and never fails as a whole: problems
/// are kept in `Snapshot::findings`.
///
/// The collecting process itself is kept in the list: it is cheap, and it lets tests check the
/// join of sockets to pids against a process they control.
pub fn collect(opts: &CollectOptions, progress: &dyn Fn(usize, usize)) -> Snapshot {
    let mut findings = Vec::new();
    let mut host = system::host_info(&mut findings);
    host.selinux = selinux::describe(std::path::Path::new("/"));
    let (users, groups) = accounts::read(&mut findings);
    let packages = dpkg::read(&mut findings);
    let processes = processes::read_all(opts, progress, &mut findings);
    let sockets = sockets::read(&processes, &mut findings);
    let connections = sockets::connections(&processes, &mut findings);
    let unix_sockets = sockets::unix(&processes, &mut findings);
    let capacity = capacity::read(&mut findings);
    Snapshot {
        schema: SCHEMA_VERSION,
        liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: crate::timefmt::now_rfc3339(),
        host,
        users,
        groups,
        packages,
        processes,
        sockets,
        connections,
        unix_sockets,
        bundle: None,
        bundle_pids: Vec::new(),
        capacity: Some(capacity),
        facts: Vec::new(),
        disk: None,
        findings,
    }
}

/// Host files can be large (dpkg's status on a big server is tens of MB) but never this large;
/// the cap keeps a corrupt or hostile file from exhausting memory.
const TEXT_LIMIT: u64 = 256 << 20;

/// Reads a host file without touching its access time.
fn read_host_text(path: &Path) -> io::Result<String> {
    let file = crate::host::open_noatime(path)?;
    // Sized from the start and not copied when valid: dpkg's status is megabytes on a real
    // host, and doubling plus a lossy copy made it collect's peak memory three times over.
    let size = file.metadata().map_or(0, |m| m.len()).min(TEXT_LIMIT);
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(TEXT_LIMIT).read_to_end(&mut buf)?;
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Reads a host file, turning a failure into a finding: every caller can go on without it.
fn read_host_text_or_note(path: &str, findings: &mut Vec<Finding>) -> Option<String> {
    match read_host_text(Path::new(path)) {
        Ok(text) => Some(text),
        Err(e) => {
            findings.push(Finding::warning(path, format!("could not be read: {e}")));
            None
        }
    }
}
