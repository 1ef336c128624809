//! `status`: where the engagement stands, one row per application: host, fit, lifted, verified,
//! open findings, effort spent against the estimate. Read from the workspace only; a step whose
//! inputs changed since it ran (a plan edited, a test added) shows as stale.

use super::effort::{self, Timesheet};
use super::scope::Scope;
use super::state::RunState;
use super::{days, EngagementError, Workspace};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusRow {
    pub id: String,
    pub host: String,
    pub app: String,
    pub fit: String,
    pub in_scope: bool,
    /// Why it is out of scope.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// `yes`, `no`, `failed`, or `stale` (the plan changed since).
    pub lifted: String,
    /// `yes`, `no`, `not run`, `not tested` (the app did not start), or `stale` (the plan or
    /// the tests changed since).
    pub verified: String,
    pub tests: usize,
    pub tests_failed: usize,
    pub open_findings: usize,
    pub estimate_days: f64,
    pub spent_days: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub engagement: String,
    pub days: u32,
    pub rows: Vec<StatusRow>,
    pub estimate_days: f64,
    /// Booked against apps and against the engagement as a whole.
    pub spent_days: f64,
}

pub fn status(ws: &Workspace) -> Result<Status, EngagementError> {
    let fleet = ws.fleet()?;
    let scope = if ws.scope_file().is_file() {
        Scope::load(&ws.scope_file())?
    } else {
        Scope::choose(&fleet, &[], None)?.0
    };
    let state = RunState::load(&ws.state_file())?;
    let sheet = Timesheet::load(&ws.timesheet_file())?;
    let mut rows = Vec::new();
    for a in &scope.apps {
        let id = a.id();
        let row = super::scope::find(&fleet, &a.host, &a.app);
        let fit = row.map_or_else(|| "?".to_string(), |r| r.fit.clone());
        let st = state.app(&id).cloned().unwrap_or_default();
        let plan_sha = std::fs::read(ws.plan_file(&a.host, &a.app))
            .ok()
            .map(|b| super::sha256_hex(&b));
        let lifted = match (&st.lifted, &st.failed) {
            (_, Some(f)) if f.step == "lift" || f.step == "plan" => "failed",
            (Some(l), _) if Some(&l.plan_sha256) == plan_sha.as_ref() => "yes",
            (Some(_), _) => "stale",
            (None, _) => "no",
        };
        let key = plan_sha
            .as_ref()
            .map(|p| super::run::acceptance_key_of(p, a.tests()));
        let (verified, tests, tests_failed) = match &st.accepted {
            Some(acc) if Some(&acc.key_sha256) != key.as_ref() => ("stale", acc.tests, acc.failed),
            Some(acc) if acc.passed => ("yes", acc.tests, 0),
            Some(acc) => ("no", acc.tests, acc.failed),
            None if st.failed.as_ref().is_some_and(|f| f.step == "accept") => {
                ("not tested", a.tests().len(), 0)
            }
            None => ("not run", a.tests().len(), 0),
        };
        let open_findings = match &st.lifted {
            Some(l) => l.open_findings.len(),
            None => row.map_or(0, |r| r.errors + r.warnings),
        };
        rows.push(StatusRow {
            id: id.clone(),
            host: a.host.clone(),
            app: a.app.clone(),
            fit,
            in_scope: a.in_scope,
            reason: a.reason.clone(),
            lifted: if a.in_scope { lifted } else { "-" }.to_string(),
            verified: if a.in_scope { verified } else { "-" }.to_string(),
            tests,
            tests_failed,
            open_findings,
            estimate_days: if a.in_scope {
                effort::estimate(&fleet, a)
            } else {
                0.0
            },
            spent_days: sheet.spent(&id),
        });
    }
    // In scope first, each part in the scope's order.
    rows.sort_by_key(|r| !r.in_scope);
    Ok(Status {
        engagement: ws.meta.name.clone(),
        days: ws.meta.days,
        estimate_days: rows.iter().map(|r| r.estimate_days).sum(),
        spent_days: sheet.total(),
        rows,
    })
}

/// The status as a text table (what `engagement status` prints).
pub fn table(s: &Status) -> String {
    let mut out = format!(
        "{:<30} {:<14} {:<8} {:<8} {:<16} {:>8}  {}\n",
        "APP", "HOST", "FIT", "LIFTED", "VERIFIED", "FINDINGS", "EFFORT spent/est."
    );
    for r in &s.rows {
        if !r.in_scope {
            out.push_str(&format!(
                "{:<30} {:<14} {:<8} out of scope: {}\n",
                r.app, r.host, r.fit, r.reason
            ));
            continue;
        }
        let verified = match r.verified.as_str() {
            "yes" => format!("yes {}/{}", r.tests, r.tests),
            "no" => format!("no {}/{} failed", r.tests_failed, r.tests),
            other => other.to_string(),
        };
        out.push_str(&format!(
            "{:<30} {:<14} {:<8} {:<8} {:<16} {:>8}  {}/{} d\n",
            r.app,
            r.host,
            r.fit,
            r.lifted,
            verified,
            r.open_findings,
            days(r.spent_days),
            days(r.estimate_days)
        ));
    }
    out.push_str(&format!(
        "total: {} days estimated for the apps ({} with kick-off and handover), {} booked; \
         the engagement has {} days\n",
        days(s.estimate_days),
        days(s.estimate_days + effort::KICKOFF_DAYS + effort::HANDOVER_DAYS),
        days(s.spent_days),
        s.days
    ));
    out
}
