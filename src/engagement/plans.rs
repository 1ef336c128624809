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
        // A `.liftignore` beside the plan file applies, as for `liftkit analyze`.
        let exclude = crate::analyze::exclude::Excludes::load(
            path.parent().unwrap_or(std::path::Path::new(".")),
            &[],
        )
        .map_err(|e| EngagementError::Usage(e.to_string()))?;
        let (mut plan, _) = session.analyze_saved(
            &snapshot,
            &snap,
            None,
            &Selection::Names(vec![a.app.clone()]),
            None,
            exclude,
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

/// Plans for every app in scope, and the tests of an app that has none written yet (see
/// `proposed_tests`). The scope is returned as it should be saved.
pub fn settle(
    ws: &Workspace,
    session: &Session,
    fleet: &FleetReport,
    mut scope: Scope,
) -> Result<Scope, EngagementError> {
    for a in scope.apps.iter_mut().filter(|a| a.in_scope) {
        let p = ensure(ws, session, fleet, a)?;
        if a.tests.is_none() {
            a.tests = Some(proposed_tests(&p.plan.apps[0]));
        }
    }
    Ok(scope)
}

/// The tests proposed for an app before the consultant writes any: its analyzer's probes; for an
/// app no analyzer knows, the probes its trial run starts from (the generic analysis's: a
/// connection to each port it listens on, answered as the original answers), marked `trial`.
pub fn proposed_tests(app: &crate::plan::AppPlan) -> Vec<Test> {
    let to_test = if app.analyzer == crate::analyze::spec::Analyzer::generic().id {
        Test::from_trial
    } else {
        Test::from_probe
    };
    app.probes.iter().map(to_test).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::accept::Origin;

    fn fixture() -> crate::plan::AppPlan {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report/plan.yaml"
        );
        crate::plan::load(std::path::Path::new(path))
            .unwrap()
            .apps
            .remove(0)
    }

    #[test]
    fn an_analyzed_app_is_accepted_by_its_analyzers_probes() {
        let mut app = fixture();
        app.analyzer = "nginx".into();
        app.probes = vec![crate::plan::Probe {
            http: Some("GET /health".into()),
            ..Default::default()
        }];
        let tests = proposed_tests(&app);
        assert_eq!(tests.len(), 1);
        assert_eq!(tests[0].from, Origin::Analyzer);
        assert_eq!(tests[0].http.as_deref(), Some("GET /health"));
    }

    #[test]
    fn an_app_no_analyzer_knows_is_accepted_by_its_trials_probe() {
        let mut app = fixture();
        app.analyzer = "generic".into();
        app.probes = crate::analyze::spec::Analyzer::generic().runtime.probes;
        let tests = proposed_tests(&app);
        assert_eq!(tests.len(), 1, "{tests:?}");
        assert_eq!(tests[0].from, Origin::Trial);
        assert_eq!(tests[0].tcp, Some(true));
        assert!(tests[0].same_as_original);
        assert!(tests[0].check().is_ok(), "{:?}", tests[0].check());
    }
}
