//! The handover's summary across apps: what was lifted, whether it answers as the original,
//! how it is hardened, what it weighs against the original machine's disk and memory, and what
//! remains. Made from the workspace's files only (scope, state, each app's outputs).

use super::effort::{self, Timesheet};
use super::scope::Scope;
use super::state::RunState;
use super::{days, EngagementError, Workspace};
use crate::fleet::FleetReport;
use crate::report::text::{human_bytes, percent};
use crate::verify::accept::{Acceptance, Origin};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub liftkit_version: String,
    pub name: String,
    pub customer: String,
    pub days: u32,
    pub counts: Counts,
    pub apps: Vec<App>,
    pub out_of_scope: Vec<Left>,
    pub remains: Vec<String>,
    pub effort: Effort,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub in_scope: usize,
    pub lifted: usize,
    pub accepted: usize,
    pub not_accepted: usize,
    pub out_of_scope: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Effort {
    /// The applications' estimates with kick-off and handover, as the statement of work.
    pub estimate: String,
    pub spent: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Left {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct App {
    pub id: String,
    pub host: String,
    pub app: String,
    pub version: String,
    pub fit: String,
    pub lifted: bool,
    pub image: String,
    pub manifest_digest: String,
    /// `passed`, `failed`, or `not run`.
    pub acceptance: String,
    pub tests_passed: usize,
    pub tests_total: usize,
    pub tests: Vec<TestOutcome>,
    /// Of the tests that compare with the original, how many got its very answer.
    pub same_as_original: String,
    pub hardening: Vec<String>,
    pub sizes: Sizes,
    pub open_findings: Vec<String>,
    /// What the pack holds for it, relative to the pack.
    pub files: Vec<String>,
    /// What it needs that the pack does not carry (data, secrets), and where it is.
    pub left_out: Vec<String>,
    pub estimate: String,
    pub spent: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub name: String,
    pub from: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    pub image: String,
    pub layer: String,
    pub volumes: String,
    /// The image and its volumes against the bytes used on the original machine's disks.
    pub vm_disk_used: String,
    pub vm_disk_size: String,
    pub disk_share: String,
    /// The lifted app's resident memory after its tests, against the original machine's.
    pub memory: String,
    pub vm_memory: String,
    pub memory_share: String,
    /// The image against the installed size of the packages its files come from.
    pub against_packages: String,
}

/// The summary of the workspace as it stands; `files` gives, per app id, what the pack holds.
pub fn build(
    ws: &Workspace,
    fleet: &FleetReport,
    scope: &Scope,
    files: &dyn Fn(&str) -> Vec<String>,
) -> Result<Summary, EngagementError> {
    let state = RunState::load(&ws.state_file())?;
    let sheet = Timesheet::load(&ws.timesheet_file())?;
    let mut apps = Vec::new();
    let mut remains = Vec::new();
    for a in scope.in_scope() {
        let id = a.id();
        let st = state.app(&id).cloned().unwrap_or_default();
        let row = super::scope::find(fleet, &a.host, &a.app);
        let dir = ws.app_dir(&a.host, &a.app);
        let lifted = st.lifted.is_some() && dir.join("build.json").is_file();
        let acc = Acceptance::load(&dir.join(crate::verify::accept::FILE)).ok();
        let report = crate::report::load(&dir).ok();
        let plan = crate::plan::load(&dir.join("plan.yaml"))
            .ok()
            .and_then(|p| p.apps.into_iter().next());
        let capacity = super::plans::snapshot_of(ws, fleet, a)
            .ok()
            .and_then(|s| crate::snapshot::load(&s).ok())
            .and_then(|s| s.capacity);
        let tests: Vec<TestOutcome> = acc
            .iter()
            .flat_map(|x| x.results.iter())
            .map(|r| TestOutcome {
                name: r.name.clone(),
                from: r.from.as_str().to_string(),
                passed: r.passed,
                detail: r.detail.clone(),
            })
            .collect();
        let acceptance = match &acc {
            Some(x) if x.passed => "passed",
            Some(_) => "failed",
            None => "not run",
        };
        if !lifted {
            remains.push(format!(
                "{id}: not lifted{}",
                st.failed
                    .as_ref()
                    .map(|f| format!(" ({}: {})", f.step, f.error))
                    .unwrap_or_default()
            ));
        } else if acceptance != "passed" {
            let failed: Vec<String> = tests
                .iter()
                .filter(|t| !t.passed)
                .map(|t| format!("{}: {}", t.name, t.detail))
                .collect();
            remains.push(format!(
                "{id}: acceptance {acceptance}{}",
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", failed.join("; "))
                }
            ));
        }
        let open_findings = st
            .lifted
            .as_ref()
            .map(|l| l.open_findings.clone())
            .unwrap_or_default();
        if !open_findings.is_empty() {
            remains.push(format!(
                "{id}: {} open findings (see its report)",
                open_findings.len()
            ));
        }
        let l = st.lifted.as_ref();
        let (content, layer, volume) = l.map_or((0, 0, 0), |l| {
            (l.content_bytes, l.layer_bytes, l.volume_bytes)
        });
        let rss = acc.as_ref().map_or(0, |x| x.rss_kib);
        let sizes = Sizes {
            image: human_bytes(content),
            layer: human_bytes(layer),
            volumes: human_bytes(volume),
            vm_disk_used: capacity
                .as_ref()
                .map_or_else(not_recorded, |c| human_bytes(c.disk_used_bytes())),
            vm_disk_size: capacity
                .as_ref()
                .map_or_else(not_recorded, |c| human_bytes(c.disk_size_bytes())),
            disk_share: capacity
                .as_ref()
                .filter(|c| c.disk_used_bytes() > 0)
                .map_or_else(not_recorded, |c| {
                    share(content + volume, c.disk_used_bytes())
                }),
            memory: if rss > 0 {
                human_bytes(rss * 1024)
            } else {
                "not measured".to_string()
            },
            vm_memory: capacity
                .as_ref()
                .filter(|c| c.memory_kib > 0)
                .map_or_else(not_recorded, |c| human_bytes(c.memory_kib * 1024)),
            memory_share: capacity
                .as_ref()
                .filter(|c| c.memory_kib > 0 && rss > 0)
                .map_or_else(not_recorded, |c| share(rss, c.memory_kib)),
            against_packages: report
                .as_ref()
                .map_or_else(not_recorded, |r| r.sizes.ratio.clone()),
        };
        let compared: Vec<_> = acc
            .iter()
            .flat_map(|x| x.results.iter())
            .filter(|r| r.from == Origin::Analyzer || r.original.is_some())
            .collect();
        let same = compared
            .iter()
            .filter(|r| r.original.is_some() && r.original == r.lifted)
            .count();
        let reached = compared.iter().filter(|r| r.original.is_some()).count();
        let mut left_out = Vec::new();
        if let Some(r) = &report {
            for v in r.volumes.rows.iter().filter(|v| v.populated) {
                left_out.push(format!(
                    "volume {} ({}): in the workspace at out/{}/{}/volumes/",
                    v.path,
                    v.human,
                    crate::plan::slug(&a.host),
                    crate::plan::slug(&a.app)
                ));
            }
            for s in &r.secrets {
                left_out.push(format!("secret {} ({}): {}", s.path, s.kind, s.handling));
            }
        }
        apps.push(App {
            id: id.clone(),
            host: a.host.clone(),
            app: a.app.clone(),
            version: row.map(|r| r.version.clone()).unwrap_or_default(),
            fit: row.map(|r| r.fit.clone()).unwrap_or_default(),
            lifted,
            image: l.map(|l| l.image.clone()).unwrap_or_default(),
            manifest_digest: l.map(|l| l.manifest_digest.clone()).unwrap_or_default(),
            acceptance: acceptance.to_string(),
            tests_passed: tests.iter().filter(|t| t.passed).count(),
            tests_total: tests.len(),
            tests,
            same_as_original: if compared.is_empty() {
                "no test compares with the original".to_string()
            } else {
                format!(
                    "{same} of {} answers the same as the original's ({} reached the original)",
                    compared.len(),
                    reached
                )
            },
            hardening: plan.as_ref().map(hardening).unwrap_or_default(),
            sizes,
            open_findings,
            files: files(&id),
            left_out,
            estimate: days(effort::estimate(fleet, a)),
            spent: days(sheet.spent(&id)),
        });
    }
    let out_of_scope: Vec<Left> = scope
        .apps
        .iter()
        .filter(|a| !a.in_scope)
        .map(|a| Left {
            id: a.id(),
            reason: a.reason.clone(),
        })
        .collect();
    remains.extend(
        out_of_scope
            .iter()
            .map(|o| format!("{}: out of scope ({})", o.id, o.reason)),
    );
    let accepted = apps.iter().filter(|a| a.acceptance == "passed").count();
    Ok(Summary {
        liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
        name: ws.meta.name.clone(),
        customer: ws.meta.customer.clone(),
        days: ws.meta.days,
        counts: Counts {
            in_scope: apps.len(),
            lifted: apps.iter().filter(|a| a.lifted).count(),
            accepted,
            not_accepted: apps.len() - accepted,
            out_of_scope: out_of_scope.len(),
        },
        effort: Effort {
            estimate: days(
                scope
                    .in_scope()
                    .map(|a| effort::estimate(fleet, a))
                    .sum::<f64>()
                    + effort::KICKOFF_DAYS
                    + effort::HANDOVER_DAYS,
            ),
            spent: days(sheet.total()),
        },
        apps,
        out_of_scope,
        remains,
    })
}

/// A share of the original machine; a lifted app is often a sliver of it, which `0.0%` hides.
fn share(part: u64, whole: u64) -> String {
    if part > 0 && part.saturating_mul(1000) < whole {
        "under 0.1%".to_string()
    } else {
        percent(part, whole)
    }
}

fn not_recorded() -> String {
    "not recorded".to_string()
}

/// How the lifted app is confined, as its plan says. (The hardening defaults of issue 14 —
/// read-only root, dropped capabilities, seccomp — add their lines here when the plan has them.)
fn hardening(app: &crate::plan::AppPlan) -> Vec<String> {
    let img = &app.image;
    let mut lines = vec![if img.uid == 0 {
        format!("runs as root ({}), as on the source", img.user)
    } else {
        format!("runs as {} (uid {}), not root", img.user, img.uid)
    }];
    lines.push(if img.capabilities.is_empty() {
        "no capabilities added".to_string()
    } else {
        format!("capabilities: {}", img.capabilities.join(", "))
    });
    lines.push(format!(
        "the image holds only the {} files it needs",
        app.files.len() + app.generated.len()
    ));
    let secrets = app.secrets.len()
        + app
            .files
            .iter()
            .filter(|f| f.role == crate::plan::Role::Secret)
            .count();
    lines.push(if secrets == 0 {
        "no secrets found".to_string()
    } else {
        format!("{secrets} secrets kept out of the image (secrets/, mounted read-only)")
    });
    lines.push(format!("network: {}, as on the source", img.network));
    lines
}
