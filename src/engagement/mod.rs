//! An engagement: a fixed-scope lift from first look to sign-off, in one workspace directory.
//!
//! ```text
//! init ──▶ snapshots/ + fleet/ (fit, effort) ──scope──▶ scope.yaml + plans/ + sow.{md,html,pdf}
//!      ──run──▶ out/<host>/<app>/ (lift, trial, acceptance) + state.json
//!      ──status──▶ the table            ──handover──▶ handover/ (+ SHA256SUMS)
//! ```
//!
//! Each step reads files the steps before it wrote, so the workspace is the engagement: it can be
//! copied, resumed and regenerated. The scope file is plain YAML a person edits (acceptance tests
//! are written there) and replays onto another workspace, as the wizard's answers are. `run` is
//! resumable: each step of each app is recorded in `state.json` under the content digest of what
//! it was made from (the app's plan; for acceptance, the plan and the agreed tests), so a run
//! that was interrupted continues where it stopped and an app whose plan did not change is not
//! redone.

pub mod effort;
pub mod handover;
pub mod pdf;
pub mod plans;
pub mod run;
pub mod scope;
pub mod sow;
pub mod state;
pub mod status;
pub mod summary;
pub mod workspace;

pub use effort::{Booking, Timesheet};
pub use run::{AppRun, RunOptions, Step};
pub use scope::{AppScope, Scope};
pub use status::StatusRow;
pub use workspace::{InitOptions, Meta, Source, Workspace};

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EngagementError {
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: schema {found} is not supported (this liftkit reads schema {expected})")]
    Schema {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// An entry of a file a person wrote that cannot be used: the file, where in it, and why.
    #[error("{path}: {at}: {message}")]
    Invalid {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: not an engagement workspace (no engagement.yaml): create one with `liftkit engagement init {path}`")]
    NotAWorkspace { path: PathBuf },
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Plan(#[from] crate::plan::LoadError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::LoadError),
    #[error(transparent)]
    Source(#[from] crate::host::select::SelectError),
}

pub(crate) fn io_err(
    path: &Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> EngagementError {
    let path = path.to_path_buf();
    move |source| EngagementError::Io { path, what, source }
}

/// Reads a YAML file a person may have edited, naming the line and column of what is wrong.
pub(crate) fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EngagementError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path, "cannot read"))?;
    serde_yaml_ng::from_str(&text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        EngagementError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

/// Writes a file whole or not at all.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EngagementError> {
    crate::fsutil::write_atomic(path, bytes).map_err(io_err(path, "cannot write"))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::verify::sha256_hex(bytes)
}

/// Days to the quarter, as the effort model rounds them, without a trailing `.0`.
pub(crate) fn days(d: f64) -> String {
    // `+ 0.0` turns the -0.0 an empty sum gives into 0.
    let d = crate::fleet::effort::round(d) + 0.0;
    if d.fract() == 0.0 {
        format!("{d:.0}")
    } else {
        format!("{d}")
    }
}
