//! Where a snapshot's or a plan's file contents come from: the one rule `analyze`, `build`,
//! `batch` and the pipeline share.
//!
//! For a snapshot: an explicit root (`--root DIR`: a mounted disk) wins; else the snapshot's
//! bundle (`collect --bundle`); else this machine's `/` when the snapshot was taken here; else no
//! files at all (the host is analyzed from its inventory, and says so). For a plan: the root it
//! recorded (`/`, a directory relative to the plan, or none), unless overridden.

use super::{Host, Live, NoFiles, RootDir};
use crate::plan::Plan;
use crate::snapshot::Snapshot;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("{path}: source root not found ({source})")]
    NoRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the source root is not a directory")]
    NotADirectory { path: PathBuf },
}

/// Which rule gave the contents, for messages and the fleet report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contents {
    /// A root directory given on the command line.
    Root,
    /// The snapshot's bundle.
    Bundle,
    /// This machine's `/`: the snapshot was taken here.
    Live,
    /// No file contents: inventory only.
    None,
}

impl Contents {
    pub fn as_str(self) -> &'static str {
        match self {
            Contents::Root => "root",
            Contents::Bundle => "bundle",
            Contents::Live => "live",
            Contents::None => "none",
        }
    }
}

pub struct Selected {
    pub host: Box<dyn Host>,
    pub contents: Contents,
}

/// The host a snapshot's applications are analyzed against.
pub fn for_snapshot(
    snapshot_file: &Path,
    snap: &Snapshot,
    explicit: Option<&Path>,
) -> Result<Selected, SelectError> {
    if let Some(dir) = explicit {
        return Ok(Selected {
            host: root_dir(dir)?,
            contents: Contents::Root,
        });
    }
    if let Some(bundle) = &snap.bundle {
        let dir = beside(snapshot_file, Path::new(bundle));
        if dir.is_dir() {
            return Ok(Selected {
                host: root_dir(&dir)?,
                contents: Contents::Bundle,
            });
        }
    }
    if is_this_machine(snap) {
        return Ok(Selected {
            host: Box::new(Live),
            contents: Contents::Live,
        });
    }
    Ok(Selected {
        host: Box::new(NoFiles),
        contents: Contents::None,
    })
}

/// The host a plan's files are read from at build time.
pub fn for_plan(
    plan_file: &Path,
    plan: &Plan,
    explicit: Option<&Path>,
) -> Result<Box<dyn Host>, SelectError> {
    if let Some(dir) = explicit {
        return root_dir(dir);
    }
    Ok(match plan.source.root.as_str() {
        "/" => Box::new(Live),
        "" => Box::new(NoFiles),
        dir => root_dir(&beside(plan_file, Path::new(dir)))?,
    })
}

/// True when the snapshot was taken on the machine liftkit runs on.
pub fn is_this_machine(snap: &Snapshot) -> bool {
    // A disk image's hostname may well be this machine's (a clone): its files are not ours.
    snap.disk.is_none() && local_hostname().is_some_and(|h| h == snap.host.hostname)
}

pub fn local_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A path relative to a file's directory (absolute paths stay as they are).
fn beside(file: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// A root directory; `/` itself is the live host.
fn root_dir(dir: &Path) -> Result<Box<dyn Host>, SelectError> {
    let real = std::fs::canonicalize(dir).map_err(|source| SelectError::NoRoot {
        path: dir.to_path_buf(),
        source,
    })?;
    if !real.is_dir() {
        return Err(SelectError::NotADirectory { path: real });
    }
    if real == Path::new("/") {
        return Ok(Box::new(Live));
    }
    Ok(Box::new(RootDir::new(real)))
}
