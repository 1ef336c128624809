//! Each app's plan in the workspace (`plans/<host>/<app>.yaml`): made from its snapshot the first
//! time it is needed, then read as the consultant may have edited it. Its content digest keys
//! the run: an app whose plan did not change is not lifted again.

use super::scope::{AppScope, Scope};
use super::{io_err, EngagementError, Workspace};
use crate::analyze::Selection;
use crate::fleet::FleetReport;
use crate::pipeline::Session;
use crate::plan::Plan;
use crate::verify::accept::Test;
use std::path::PathBuf;

/// A plan as the run uses it: where it is, what it says, and the digest of its bytes.
pub struct AppPlanFile {
    pub path: PathBuf,
    pub plan: Plan,
    pub sha256: String,
    /// The snapshot it was made from, in the workspace.
    pub snapshot: PathBuf,
}

/// The snapshot file an app of the fleet was found in.
pub fn snapshot_of(
    ws: &Workspace,
    fleet: &FleetReport,
    a: &AppScope,
) -> Result<PathBuf, EngagementError> {
    let row = super::scope::find(fleet, &a.host, &a.app).ok_or_else(|| {
        EngagementError::Usage(format!(
            "{}: in the scope but not in the fleet of {}",
            a.id(),
            ws.dir.display()
        ))
    })?;
    Ok(ws.snapshots_dir().join(&row.file))
}

/// The app's plan, made (and written) from its snapshot when the workspace has none yet.
pub fn ensure(
    ws: &Workspace,
    session: &Session,
    fleet: &FleetReport,
    a: &AppScope,
) -> Result<AppPlanFile, EngagementError> {
    let path = ws.plan_file(&a.host, &a.app);
    let snapshot = snapshot_of(ws, fleet, a)?;
    if !path.is_file() {
        let snap = crate::snapshot::load(&snapshot)?;
        let (mut plan, _) = session.analyze_saved(
            &snapshot,
            &snap,
            None,
            &Selection::Names(vec![a.app.clone()]),
            None,
        )?;
        // Relative to the plan file, so the workspace can move without its plans changing.
        plan.source.snapshot = format!(
            "../../snapshots/{}",
            snapshot.file_name().unwrap_or_default().to_string_lossy()
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir, "cannot create"))?;
        }
        crate::plan::save(&plan, &path).map_err(io_err(&path, "cannot write"))?;
    }
    load(path, snapshot)
}

fn load(path: PathBuf, snapshot: PathBuf) -> Result<AppPlanFile, EngagementError> {
    let bytes = std::fs::read(&path).map_err(io_err(&path, "cannot read"))?;
    let plan = crate::plan::load(&path)?;
    if plan.apps.len() != 1 {
        return Err(EngagementError::Invalid {
            path,
            at: "apps".to_string(),
            message: format!(
                "an engagement plan holds one application, this one {}",
                plan.apps.len()
            ),
        });
    }
    Ok(AppPlanFile {
        sha256: super::sha256_hex(&bytes),
        path,
        plan,
        snapshot,
    })
}

/// Plans for every app in scope, and the analyzer's probes as the tests of an app that has
/// none written yet. The scope is returned as it should be saved.
pub fn settle(
    ws: &Workspace,
    session: &Session,
    fleet: &FleetReport,
    mut scope: Scope,
) -> Result<Scope, EngagementError> {
    for a in scope.apps.iter_mut().filter(|a| a.in_scope) {
        let p = ensure(ws, session, fleet, a)?;
        if a.tests.is_none() {
            a.tests = Some(p.plan.apps[0].probes.iter().map(Test::from_probe).collect());
        }
    }
    Ok(scope)
}
