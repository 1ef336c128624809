//! The engagement report: where an application came from, what its image holds and why, what it
//! weighs against the packages on the host, what could not be read or was guessed, what blocks the
//! lift, and how to run the result.
//!
//! One model ([`Report`]) is built from the plan, the build record and the sizes of the files taken
//! (read through the [`Host`] the build read); each format is an encoder of that model:
//! `report.json` is the model itself, `report.html` (one self-contained file: inline CSS, inline
//! SVG charts, no network) and `report.md` are `templates/*.hbs` rendered with handlebars. The
//! templates are compiled into the binary, so a liftkit copied onto a server carries them.

pub mod chart;
mod findings;
pub mod hardening;
mod model;
pub(crate) mod render;
mod sizes;
pub mod text;

use crate::built::AppBuild;
use crate::host::Host;
use crate::plan::{AppPlan, Plan};
use crate::snapshot::Snapshot;
use std::path::{Path, PathBuf};

pub use model::*;

/// Bumped when a field of `report.json` changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {template}: {message}")]
    Render { template: String, message: String },
    #[error("{path}: not a report this liftkit can read: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Everything a report is made from.
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub app: &'a AppPlan,
    pub built: &'a AppBuild,
    /// The root the build read file contents from: file sizes come from it.
    pub host: &'a dyn Host,
    /// Host facts the plan does not carry (architecture, addresses, when collected), if at hand.
    pub snapshot: Option<&'a Snapshot>,
    /// Where the app's artifacts end up (`out/nginx`), as the run commands name it.
    pub app_dir: &'a Path,
    /// Where the populated volumes are now (the staging directory during a build).
    pub volumes_dir: &'a Path,
    /// Whether files of role `secret` were baked into the image.
    pub secrets_in_image: bool,
}

/// Writes `report.json`, `report.html` and `report.md` into `dir`.
pub fn write(report: &Report, dir: &Path) -> Result<(), ReportError> {
    let io = |path: PathBuf| move |source| ReportError::Io { path, source };
    let json = serde_json::to_string_pretty(report).map_err(|e| ReportError::Render {
        template: "report.json".to_string(),
        message: e.to_string(),
    })? + "\n";
    let html = render::report_html(report)?;
    let md = render::report_markdown(report)?;
    for (name, text) in [
        ("report.json", json),
        ("report.html", html),
        ("report.md", md),
    ] {
        let path = dir.join(name);
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(io(path))?;
    }
    Ok(())
}

/// The report of one app's build, written beside its other artifacts in `dir` (the staging
/// directory `out/.<app>.partial`, renamed to `out/<app>` when the build succeeds).
pub fn write_for_build(
    plan: &Plan,
    app: &AppPlan,
    built: &AppBuild,
    host: &dyn Host,
    dir: &Path,
    secrets_in_image: bool,
) -> Result<Report, ReportError> {
    let out = dir.parent().unwrap_or(Path::new("."));
    let report = Report::new(&Inputs {
        plan,
        app,
        built,
        host,
        snapshot: None,
        app_dir: &out.join(app.slug()),
        volumes_dir: &dir.join("volumes"),
        secrets_in_image,
    });
    write(&report, dir)?;
    Ok(report)
}

/// Reads a `report.json` back (to add a verify result after the build).
pub fn load(dir: &Path) -> Result<Report, ReportError> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Parse {
        path,
        message: e.to_string(),
    })
}

/// Records the trial run in an app directory's report and renders all three files again.
pub fn set_trial(dir: &Path, trial: TrialSummary) -> Result<Report, ReportError> {
    let mut report = load(dir)?;
    report.trial = Some(trial);
    write(&report, dir)?;
    Ok(report)
}

/// Renders an app directory's Hardening section again from its plan (after the trial run
/// recorded the system calls and the places the app writes).
pub fn set_hardening(dir: &Path, app: &AppPlan, built: &AppBuild) -> Result<Report, ReportError> {
    let mut report = load(dir)?;
    report.hardening = hardening::section(app);
    // The build's findings as the trial left them (it withdraws a warning it made moot).
    report.findings = findings::section(app, built);
    write(&report, dir)?;
    Ok(report)
}

/// Records a verify result in an app directory's report and renders all three files again.
pub fn set_verify(dir: &Path, verify: VerifySummary) -> Result<Report, ReportError> {
    let mut report = load(dir)?;
    report.verify = Some(verify);
    write(&report, dir)?;
    Ok(report)
}
