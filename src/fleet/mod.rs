//! The fleet report: a directory of snapshots (one per server, from `liftkit collect`) analyzed
//! together: every host, every application, its fit, blockers and estimated effort, and where the
//! same application differs between hosts.
//!
//! Where file contents come from, per snapshot (and recorded in the report as `contents`):
//! `crate::host::select::for_snapshot`, the rule `analyze` uses too:
//! - `bundle`: the snapshot names a bundle (`collect --bundle`) that exists beside it;
//! - `live`: no bundle, and the snapshot's hostname is this machine's: the live `/` is that host;
//! - `none`: otherwise. Reading this machine's files for another server would be wrong, so the
//!   analysis runs against a host without files: processes, sockets, packages and versions still
//!   count, file lists and configuration contents do not, and configuration is not compared.
//!
//! Hosts without contents are marked in every table; what is unknown for them (a version no
//! package names, a configuration not read) is left out of the comparison, never counted as a
//! difference.
//!
//! A snapshot that cannot be read (corrupt, not a snapshot, another schema) is listed as
//! unreadable with the reason; the others still report.

mod analyze;
mod diff;
pub mod effort;
mod render;

use crate::analyze::Analyzer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use render::{to_csv, to_html, write};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{path}: cannot list: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] crate::report::ReportError),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FleetReport {
    pub schema: u32,
    pub liftkit_version: String,
    /// The directory the snapshots were read from.
    pub source: String,
    pub summary: Summary,
    pub hosts: Vec<HostRow>,
    pub apps: Vec<AppRow>,
    pub differences: Vec<Difference>,
    pub unreadable: Vec<Unreadable>,
    pub charts: Charts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub snapshots: usize,
    pub hosts: usize,
    pub unreadable: usize,
    pub apps: usize,
    pub good: usize,
    pub partial: usize,
    pub poor: usize,
    pub blocked: usize,
    pub effort_days: f64,
    pub differences: usize,
    /// Hosts analyzed from their inventory alone (no file contents at hand).
    pub inventory_only: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostRow {
    /// The snapshot's file name in the directory.
    pub file: String,
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub packages_count: usize,
    pub collected_at: String,
    /// Where file contents came from: `bundle`, `live` or `none` (see the module's notes).
    pub contents: String,
    pub apps: usize,
    pub effort_days: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppRow {
    pub file: String,
    pub hostname: String,
    pub app: String,
    pub analyzer: String,
    pub version: String,
    /// `good`, `partial` or `poor`.
    pub fit: String,
    pub fit_reasons: Vec<String>,
    /// What stands in the way: error-level findings, and the fit's reasons when the fit is poor.
    pub blockers: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    /// The warning-level findings, as `subject: message`.
    pub warning_messages: Vec<String>,
    /// Where the host's file contents came from (`bundle`, `live`, `none`): with `none`, files,
    /// volumes, fit and effort are estimated from the inventory alone.
    pub contents: String,
    pub files: usize,
    pub volumes: usize,
    pub secrets: usize,
    pub listen: Vec<String>,
    pub user: String,
    pub unit: String,
    pub effort_days: f64,
    /// The differences this instance takes part in, as `kind subject`.
    pub differs: Vec<String>,
}

/// One way the same application differs across hosts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Difference {
    /// The application, by the name liftkit gives it on each host.
    pub app: String,
    /// `version`, `package`, `config` or `ports`.
    pub kind: String,
    /// The package or file compared; the application itself for `version` and `ports`.
    pub subject: String,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Variant {
    /// A version, a content digest (`sha256:…`, shortened), or `absent`.
    pub value: String,
    /// `hostname`, or `hostname/app` where a host runs several instances.
    pub hosts: Vec<String>,
    /// Those of `hosts` analyzed from their inventory alone.
    pub inventory_only: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unreadable {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Charts {
    pub fit: crate::report::chart::Chart,
    pub effort: crate::report::chart::Chart,
}

/// Analyzes every `*.json` file directly in `dir`, in parallel; `progress` is called once per
/// snapshot done (the count to expect is `snapshot_files(dir)?.len()`).
pub fn analyze_dir(
    dir: &Path,
    analyzers: &[Analyzer],
    progress: &(dyn Fn() + Sync),
) -> Result<FleetReport, FleetError> {
    let files = snapshot_files(dir)?;
    let outcomes = analyze::all(&files, analyzers, progress);
    Ok(analyze::assemble(dir, outcomes))
}

/// The `*.json` files directly in `dir`, sorted by name.
pub fn snapshot_files(dir: &Path) -> Result<Vec<PathBuf>, FleetError> {
    let list = |source| FleetError::List {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(list)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.is_dir())
        .collect();
    files.sort();
    Ok(files)
}
