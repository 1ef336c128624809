//! The statement of work: what the customer agrees to before the lift. Scope, what is left out
//! and why, effort and the model behind it, assumptions (data copied from running hosts, how
//! secrets are handled), every acceptance test, and the schedule across the engagement's days.
//!
//! One model ([`Sow`]) rendered by `templates/sow.md.hbs` and `templates/sow.html.hbs` (compiled
//! in, as the report's are); `sow.pdf` is the HTML printed by headless Chromium where present.
//! Everything comes from the workspace's files, so the same workspace prints the same SOW.

use super::effort::{self, Day};
use super::scope::{AppScope, Scope};
use super::{days, write_file, EngagementError, Workspace};
use crate::fleet::{AppRow, FleetReport};
use crate::plan::{AppPlan, Role};
use crate::report::render::{render, Format};
use serde::Serialize;
use std::path::PathBuf;

const SOW_HTML: &str = include_str!("../../templates/sow.html.hbs");
const SOW_MD: &str = include_str!("../../templates/sow.md.hbs");

#[derive(Debug, Clone, Serialize)]
pub struct Sow {
    pub liftkit_version: String,
    pub name: String,
    pub customer: String,
    pub days: u32,
    pub snapshots_from: String,
    pub hosts: Vec<Host>,
    pub scope: Vec<InScope>,
    pub out_of_scope: Vec<OutOfScope>,
    pub effort: Effort,
    pub assumptions: Vec<Assumption>,
    pub tests_total: usize,
    pub schedule: Vec<Day>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub hostname: String,
    pub os: String,
    pub collected_at: String,
    pub contents: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InScope {
    pub id: String,
    pub host: String,
    pub app: String,
    pub version: String,
    pub analyzer: String,
    pub fit: String,
    pub fit_reasons: Vec<String>,
    pub blockers: Vec<String>,
    pub listen: Vec<String>,
    /// The model's terms for this app.
    pub model: Terms,
    /// The days agreed (the model's unless the scope says otherwise).
    pub estimate: String,
    pub adjusted: bool,
    pub note: String,
    pub tests: Vec<TestLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Terms {
    pub base: String,
    pub errors: usize,
    pub volumes: usize,
    pub secrets: usize,
    pub total: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestLine {
    pub name: String,
    pub from: String,
    pub action: String,
    pub expected: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutOfScope {
    pub id: String,
    pub fit: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Effort {
    pub apps: String,
    pub kickoff: String,
    pub handover: String,
    pub total: String,
    pub days: u32,
    pub fits: bool,
    pub over_by: String,
    pub model: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assumption {
    pub title: String,
    pub text: String,
    pub items: Vec<String>,
}

/// The statement of work of the workspace as it stands (the scope must be settled: every app
/// in scope has its plan).
pub fn build(ws: &Workspace, fleet: &FleetReport, scope: &Scope) -> Result<Sow, EngagementError> {
    let mut in_scope = Vec::new();
    let mut plans = Vec::new();
    for a in scope.in_scope() {
        let row = super::scope::find(fleet, &a.host, &a.app).ok_or_else(|| {
            EngagementError::Usage(format!("{}: in the scope but not in the fleet", a.id()))
        })?;
        let plan = crate::plan::load(&ws.plan_file(&a.host, &a.app))?;
        let app = plan.apps.into_iter().next();
        in_scope.push(in_scope_line(fleet, a, row));
        if let Some(app) = app {
            plans.push((a.id(), app));
        }
    }
    let out_of_scope = scope
        .apps
        .iter()
        .filter(|a| !a.in_scope)
        .map(|a| OutOfScope {
            id: a.id(),
            fit: super::scope::find(fleet, &a.host, &a.app)
                .map_or_else(|| "?".to_string(), |r| r.fit.clone()),
            reason: a.reason.clone(),
        })
        .collect();
    let apps_days: f64 = scope.in_scope().map(|a| effort::estimate(fleet, a)).sum();
    let total = apps_days + effort::KICKOFF_DAYS + effort::HANDOVER_DAYS;
    let work: Vec<(String, f64)> = scope
        .in_scope()
        .map(|a| (a.id(), effort::estimate(fleet, a)))
        .collect();
    let effort = Effort {
        apps: days(apps_days),
        kickoff: days(effort::KICKOFF_DAYS),
        handover: days(effort::HANDOVER_DAYS),
        total: days(total),
        days: ws.meta.days,
        fits: total <= f64::from(ws.meta.days) + 1e-9,
        over_by: days((total - f64::from(ws.meta.days)).max(0.0)),
        model: effort::MODEL.iter().map(|s| s.to_string()).collect(),
    };
    let mut hosts: Vec<Host> = fleet
        .hosts
        .iter()
        .filter(|h| scope.apps.iter().any(|a| a.host == h.hostname))
        .map(|h| Host {
            hostname: h.hostname.clone(),
            os: h.os.clone(),
            collected_at: h.collected_at.clone(),
            contents: h.contents.clone(),
        })
        .collect();
    hosts.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    Ok(Sow {
        liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
        name: ws.meta.name.clone(),
        customer: ws.meta.customer.clone(),
        days: ws.meta.days,
        snapshots_from: ws.meta.snapshots_from.clone(),
        tests_total: in_scope.iter().map(|a| a.tests.len()).sum(),
        scope: in_scope,
        out_of_scope,
        effort,
        assumptions: assumptions(&plans, &hosts),
        schedule: effort::schedule(&work, ws.meta.days),
        hosts,
    })
}

fn in_scope_line(fleet: &FleetReport, a: &AppScope, row: &AppRow) -> InScope {
    let base = match row.fit.as_str() {
        "good" => 0.5,
        "partial" => 2.0,
        _ => 5.0,
    };
    InScope {
        id: a.id(),
        host: a.host.clone(),
        app: a.app.clone(),
        version: row.version.clone(),
        analyzer: row.analyzer.clone(),
        fit: row.fit.clone(),
        fit_reasons: row.fit_reasons.clone(),
        blockers: row.blockers.clone(),
        listen: row.listen.clone(),
        model: Terms {
            base: days(base),
            errors: row.errors,
            volumes: row.volumes,
            secrets: row.secrets,
            total: days(effort::model_days(fleet, a)),
        },
        estimate: days(effort::estimate(fleet, a)),
        adjusted: a.effort_days.is_some(),
        note: a.note.clone(),
        tests: a
            .tests()
            .iter()
            .map(|t| TestLine {
                name: t.name.clone(),
                from: t.from.as_str().to_string(),
                action: t.action(),
                expected: t.expectation(),
            })
            .collect(),
    }
}

fn assumptions(plans: &[(String, AppPlan)], hosts: &[Host]) -> Vec<Assumption> {
    let volumes: Vec<String> = plans
        .iter()
        .flat_map(|(id, app)| {
            app.volumes.iter().map(move |v| {
                let how = match (&v.populate_with, v.populate) {
                    (Some(w), _) => format!("a consistent copy made with {w}"),
                    (None, true) => "copied file by file while the application runs".to_string(),
                    (None, false) => "starts empty".to_string(),
                };
                format!("{id}: {} ({how})", v.path)
            })
        })
        .collect();
    let secrets: Vec<String> = plans
        .iter()
        .flat_map(|(id, app)| {
            let mounts = app
                .secrets
                .iter()
                .map(move |s| format!("{id}: {} ({})", s.path, s.kind));
            let files = app
                .files
                .iter()
                .filter(|f| f.role == Role::Secret)
                .map(move |f| format!("{id}: {} (file)", f.path));
            mounts.chain(files)
        })
        .collect();
    let snapshots: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "{}: collected {} (file contents: {})",
                h.hostname, h.collected_at, h.contents
            )
        })
        .collect();
    vec![
        Assumption {
            title: "Data copied while running".to_string(),
            text: "Volumes are filled from the source host at build time, while the application runs. A running application's files are not a consistent copy unless a strategy makes one (PostgreSQL: pg_basebackup); the final copy at cut-over is made with the application stopped or by its own replication, and is the customer's step, outside this engagement.".to_string(),
            items: if volumes.is_empty() { vec!["no application in scope has a data volume".to_string()] } else { volumes },
        },
        Assumption {
            title: "Secrets".to_string(),
            text: "Private keys, passwords and tokens are never baked into an image: the plan lists them (redacted), the build writes them to secrets/ (mode 0600, the host's owner), run.sh mounts them read-only. They are not part of the handover pack; the customer moves them into their own secret store.".to_string(),
            items: if secrets.is_empty() { vec!["no secret found in the applications in scope".to_string()] } else { secrets },
        },
        Assumption {
            title: "The source hosts are only read".to_string(),
            text: "liftkit reads the source hosts and changes nothing on them. The acceptance tests run the lifted image in its own network namespace beside the original, which keeps running and serving; a test that compares with the original asks it the same question.".to_string(),
            items: Vec::new(),
        },
        Assumption {
            title: "The inventory is as collected".to_string(),
            text: "Scope, effort and tests are made from the snapshots below; a change on a host after its snapshot (a new application, a new version) is a change of scope.".to_string(),
            items: snapshots,
        },
        Assumption {
            title: "Acceptance".to_string(),
            text: "An application is accepted when every one of its acceptance tests below passes against the lifted image; the results are recorded with their evidence and handed over. Tests marked `analyzer` come from liftkit's knowledge of the application and must answer as the original does; tests marked `trial` are the probes liftkit's trial run starts from for an application it has no analyzer for (each port answers, as the original's does); tests marked `consultant` were written for this engagement.".to_string(),
            items: Vec::new(),
        },
    ]
}

/// Where the statement of work was written.
pub struct Written {
    pub markdown: PathBuf,
    pub html: PathBuf,
    /// The PDF, or why it was not printed.
    pub pdf: Result<PathBuf, String>,
}

pub fn to_markdown(sow: &Sow) -> Result<String, EngagementError> {
    Ok(render("sow.md.hbs", SOW_MD, Format::Markdown, sow)?)
}

pub fn to_html(sow: &Sow) -> Result<String, EngagementError> {
    Ok(render("sow.html.hbs", SOW_HTML, Format::Html, sow)?)
}

/// Writes `sow.md` and `sow.html` into the workspace, and prints `sow.pdf` when `pdf` is set and
/// Chromium is at hand, dated `date` (`SOURCE_DATE_EPOCH`) or undated.
pub fn write(
    ws: &Workspace,
    sow: &Sow,
    pdf: bool,
    date: Option<u64>,
) -> Result<Written, EngagementError> {
    let markdown = ws.dir.join("sow.md");
    let html = ws.dir.join("sow.html");
    write_file(&markdown, to_markdown(sow)?.as_bytes())?;
    write_file(&html, to_html(sow)?.as_bytes())?;
    let pdf_path = ws.dir.join("sow.pdf");
    let pdf = if pdf {
        super::pdf::print(&html, &pdf_path, date).map(|()| pdf_path)
    } else {
        Err("not asked for".to_string())
    };
    Ok(Written {
        markdown,
        html,
        pdf,
    })
}
