//! The scope file: which applications the engagement lifts, why the others are left out, the
//! effort agreed, and each app's acceptance tests. Plain YAML a person edits and replays onto
//! another workspace (`scope --from FILE`), as the wizard's answers are.
//!
//! ```yaml
//! schema: 1
//! apps:
//! - host: web01
//!   app: nginx
//!   in_scope: true
//!   tests:
//!   - name: http GET /
//!     from: analyzer
//!     http: GET /
//!     same_as_original: true
//!   - name: health page
//!     http: GET /health
//!     status: 200
//! - host: web01
//!   app: readerd
//!   in_scope: false
//!   reason: 'poor fit: uses devices: /dev/ttyS0'
//! ```

use super::{read_yaml, write_file, EngagementError};
use crate::fleet::{AppRow, FleetReport};
use crate::verify::accept::Test;
use crate::wizard::{Answer, Choice, Kind, Question};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;

/// The question id of the interactive choice, as the wizard numbers its questions.
pub const QUESTION_ID: &str = "scope.apps";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub schema: u32,
    pub apps: Vec<AppScope>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppScope {
    pub host: String,
    pub app: String,
    pub in_scope: bool,
    /// Why it is left out, for the statement of work (derived from the fleet unless written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The effort agreed in days, when it is not the model's estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort_days: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The acceptance tests. Absent: the analyzer's probes are taken when the app's plan is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<Test>>,
}

impl AppScope {
    pub fn id(&self) -> String {
        format!("{}/{}", self.host, self.app)
    }

    pub fn tests(&self) -> &[Test] {
        self.tests.as_deref().unwrap_or_default()
    }
}

const HEADER: &str = "\
# liftkit engagement scope. Edit it (in_scope, reason, effort_days, tests), then run
# `liftkit engagement sow` to print the statement of work again; replay it onto another
# workspace with `liftkit engagement scope DIR --from FILE`.
# A test is one of http (`GET /path`), tcp (true), send (+ expect: a regex) or command (run in
# the lifted container), with what it must give: status, body_sha256, expect, exit,
# same_as_original.
";

impl Scope {
    pub fn load(path: &Path) -> Result<Scope, EngagementError> {
        let scope: Scope = read_yaml(path)?;
        if scope.schema != SCHEMA_VERSION {
            return Err(EngagementError::Schema {
                path: path.to_path_buf(),
                found: scope.schema,
                expected: SCHEMA_VERSION,
            });
        }
        scope.check(path)?;
        Ok(scope)
    }

    pub fn save(&self, path: &Path) -> Result<(), EngagementError> {
        let body = serde_yaml_ng::to_string(self).map_err(|e| EngagementError::Io {
            path: path.to_path_buf(),
            what: "cannot encode",
            source: std::io::Error::other(e),
        })?;
        write_file(path, format!("{HEADER}{body}").as_bytes())
    }

    /// Every test can run as written, no app is named twice, efforts are sensible.
    fn check(&self, path: &Path) -> Result<(), EngagementError> {
        let invalid = |at: String, message: String| EngagementError::Invalid {
            path: path.to_path_buf(),
            at,
            message,
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in self.apps.iter().enumerate() {
            let at = format!("apps[{i}] ({})", a.id());
            if !seen.insert(a.id()) {
                return Err(invalid(at, "named twice".to_string()));
            }
            if let Some(d) = a.effort_days {
                if !(d.is_finite() && d > 0.0) {
                    return Err(invalid(
                        at,
                        format!("effort_days: {d} is not a positive number"),
                    ));
                }
            }
            for t in a.tests() {
                t.check()
                    .map_err(|m| invalid(format!("{at}: test {:?}", t.name), m))?;
            }
            let mut names = std::collections::BTreeSet::new();
            if let Some(t) = a.tests().iter().find(|t| !names.insert(t.name.as_str())) {
                return Err(invalid(at, format!("two tests are named {:?}", t.name)));
            }
        }
        Ok(())
    }

    pub fn in_scope(&self) -> impl Iterator<Item = &AppScope> {
        self.apps.iter().filter(|a| a.in_scope)
    }

    pub fn get(&self, id: &str) -> Option<&AppScope> {
        self.apps.iter().find(|a| a.id() == id)
    }

    /// The scope with `names` chosen (`host/app`, or `app` where one host has it) and every
    /// other app of the fleet left out; what an app had in `previous` (tests, effort, notes) is
    /// kept. Returns warnings for the person (a chosen app with blockers).
    pub fn choose(
        fleet: &FleetReport,
        names: &[String],
        previous: Option<&Scope>,
    ) -> Result<(Scope, Vec<String>), EngagementError> {
        let mut chosen = Vec::new();
        for n in names {
            let row = resolve(fleet, n)?;
            if !chosen.contains(&id_of(row)) {
                chosen.push(id_of(row));
            }
        }
        let mut warnings = Vec::new();
        let apps = rows(fleet)
            .map(|row| {
                let id = id_of(row);
                let before = previous.and_then(|p| p.get(&id));
                let in_scope = chosen.contains(&id);
                if in_scope && !row.blockers.is_empty() {
                    warnings.push(format!(
                        "{id} is in scope with blockers: {}",
                        row.blockers.join("; ")
                    ));
                }
                AppScope {
                    host: row.hostname.clone(),
                    app: row.app.clone(),
                    in_scope,
                    reason: match before {
                        Some(b) if !in_scope && !b.in_scope && !b.reason.is_empty() => {
                            b.reason.clone()
                        }
                        _ if in_scope => String::new(),
                        _ => derived_reason(row),
                    },
                    effort_days: before.and_then(|b| b.effort_days),
                    note: before.map(|b| b.note.clone()).unwrap_or_default(),
                    tests: before.and_then(|b| b.tests.clone()),
                }
            })
            .collect();
        let scope = Scope {
            schema: SCHEMA_VERSION,
            apps,
        };
        Ok((scope, warnings))
    }

    /// A scope file from elsewhere (another workspace, a hand-written one) laid onto this
    /// fleet: every entry must name an app of the fleet; apps it does not name are left out.
    pub fn replay(
        fleet: &FleetReport,
        file: &Scope,
        path: &Path,
    ) -> Result<(Scope, Vec<String>), EngagementError> {
        for (i, a) in file.apps.iter().enumerate() {
            if find(fleet, &a.host, &a.app).is_none() {
                return Err(EngagementError::Invalid {
                    path: path.to_path_buf(),
                    at: format!("apps[{i}] ({})", a.id()),
                    message: format!(
                        "no such application in this workspace's fleet (found: {})",
                        known(fleet)
                    ),
                });
            }
        }
        let names: Vec<String> = file.in_scope().map(AppScope::id).collect();
        let (mut scope, warnings) = Scope::choose(fleet, &names, Some(file))?;
        // The file's own words stand, for apps in scope as much as out of it.
        for a in &mut scope.apps {
            if let Some(f) = file.get(&a.id()) {
                a.effort_days = f.effort_days;
                a.note = f.note.clone();
                a.tests = f.tests.clone();
                if !f.in_scope && !f.reason.is_empty() {
                    a.reason = f.reason.clone();
                }
            }
        }
        Ok((scope, warnings))
    }

    /// The interactive choice, as a wizard question: every app with its fit and effort, the
    /// current scope (or every app without blockers) ticked.
    pub fn question(fleet: &FleetReport, previous: Option<&Scope>) -> Question {
        let choices = rows(fleet)
            .map(|r| {
                let blockers = if r.blockers.is_empty() {
                    String::new()
                } else {
                    format!("  blockers: {}", r.blockers.join("; "))
                };
                Choice::new(
                    id_of(r),
                    format!(
                        "{:<28} {:<8} {:>5} d{blockers}",
                        id_of(r),
                        r.fit,
                        super::days(r.effort_days)
                    ),
                )
            })
            .collect();
        let ticked: Vec<String> = match previous {
            Some(p) => p.in_scope().map(AppScope::id).collect(),
            None => rows(fleet)
                .filter(|r| r.blockers.is_empty() && r.fit != "poor")
                .map(id_of)
                .collect(),
        };
        Question {
            id: QUESTION_ID.to_string(),
            prompt: "Applications in scope (space toggles, enter accepts)".to_string(),
            kind: Kind::MultiSelect { choices, min: 1 },
            default: Some(Answer::Many(ticked)),
            record: true,
        }
    }
}

/// Why an app the consultant did not choose is out of scope, from what the fleet found.
pub fn derived_reason(row: &AppRow) -> String {
    if row.fit == "poor" {
        format!("poor fit: {}", row.fit_reasons.join("; "))
    } else if !row.blockers.is_empty() {
        format!("blockers: {}", row.blockers.join("; "))
    } else {
        "not chosen for this engagement".to_string()
    }
}

/// The fleet's apps in a stable order: by host, then app.
fn rows(fleet: &FleetReport) -> impl Iterator<Item = &AppRow> {
    let mut rows: Vec<&AppRow> = fleet.apps.iter().collect();
    rows.sort_by(|a, b| (&a.hostname, &a.app).cmp(&(&b.hostname, &b.app)));
    rows.dedup_by(|a, b| a.hostname == b.hostname && a.app == b.app);
    rows.into_iter()
}

fn id_of(r: &AppRow) -> String {
    format!("{}/{}", r.hostname, r.app)
}

pub fn find<'f>(fleet: &'f FleetReport, host: &str, app: &str) -> Option<&'f AppRow> {
    fleet
        .apps
        .iter()
        .find(|r| r.hostname == host && r.app == app)
}

fn known(fleet: &FleetReport) -> String {
    let all: Vec<String> = rows(fleet).map(id_of).collect();
    if all.is_empty() {
        "nothing".to_string()
    } else {
        all.join(", ")
    }
}

/// `host/app`, or `app` when exactly one host runs an app of that name.
fn resolve<'f>(fleet: &'f FleetReport, name: &str) -> Result<&'f AppRow, EngagementError> {
    if let Some((host, app)) = name.split_once('/') {
        return find(fleet, host, app).ok_or_else(|| {
            EngagementError::Usage(format!(
                "--app {name}: no such application (found: {})",
                known(fleet)
            ))
        });
    }
    // By name, else by the analyzer that knows it (`nginx` for `nginx-8080`), as lift selects.
    let mut matches: Vec<&AppRow> = rows(fleet).filter(|r| r.app == name).collect();
    if matches.is_empty() {
        matches = rows(fleet).filter(|r| r.analyzer == name).collect();
    }
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(EngagementError::Usage(format!(
            "--app {name}: no such application (found: {})",
            known(fleet)
        ))),
        several => Err(EngagementError::Usage(format!(
            "--app {name}: several applications go by it ({}): name one as HOST/APP",
            several
                .iter()
                .map(|r| id_of(r))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
