//! Effort: the estimate each app in scope carries (the fleet's model, or the days agreed in the
//! scope), the days booked against it (`timesheet.yaml`, `engagement log`), and the schedule the
//! statement of work lays out across the engagement's days.

use super::scope::{AppScope, Scope};
use super::{read_yaml, write_file, EngagementError};
use crate::fleet::FleetReport;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;

/// Time set aside at the start (kick-off, access, the scope and tests confirmed) and at the end
/// (handover, sign-off), in days.
pub const KICKOFF_DAYS: f64 = 0.5;
pub const HANDOVER_DAYS: f64 = 0.5;

/// The rules of the model, as the statement of work explains them (src/fleet/effort.rs).
pub const MODEL: &[&str] = &[
    "a base by fit: good 0.5 day (build, run, verify), partial 2 days (review the plan, fill what runtime evidence missed), poor 5 days (something blocks: devices, kernel modules, a GUI)",
    "1 day per error-level finding (each is a blocker to resolve)",
    "0.5 day per volume (data to migrate and keep in sync at cut-over)",
    "0.25 day per secret (to move into the target's secret store)",
    "rounded to the quarter day",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timesheet {
    pub schema: u32,
    #[serde(default)]
    pub entries: Vec<Booking>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    /// `host/app`, or empty for the engagement as a whole (kick-off, handover).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app: String,
    pub days: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Timesheet {
    pub fn load(path: &Path) -> Result<Timesheet, EngagementError> {
        if !path.exists() {
            return Ok(Timesheet {
                schema: SCHEMA_VERSION,
                entries: Vec::new(),
            });
        }
        let t: Timesheet = read_yaml(path)?;
        if t.schema != SCHEMA_VERSION {
            return Err(EngagementError::Schema {
                path: path.to_path_buf(),
                found: t.schema,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(t)
    }

    pub fn save(&self, path: &Path) -> Result<(), EngagementError> {
        let text = serde_yaml_ng::to_string(self).map_err(|e| EngagementError::Io {
            path: path.to_path_buf(),
            what: "cannot encode",
            source: std::io::Error::other(e),
        })?;
        write_file(
            path,
            format!(
                "# effort booked: `liftkit engagement log DIR --days D [--app HOST/APP]`\n{text}"
            )
            .as_bytes(),
        )
    }

    /// Books `days` against an app of the scope (or the engagement as a whole).
    pub fn book(
        &mut self,
        scope: &Scope,
        app: Option<&str>,
        days: f64,
        note: &str,
    ) -> Result<(), EngagementError> {
        if !(days.is_finite() && days > 0.0 && days <= 31.0) {
            return Err(EngagementError::Usage(format!(
                "--days {days}: book a positive number of days (at most 31 at once)"
            )));
        }
        let app = match app {
            None => String::new(),
            Some(name) => resolve(scope, name)?,
        };
        self.entries.push(Booking {
            app,
            days,
            note: note.to_string(),
        });
        Ok(())
    }

    pub fn spent(&self, id: &str) -> f64 {
        self.entries
            .iter()
            .filter(|b| b.app == id)
            .map(|b| b.days)
            .sum()
    }

    pub fn total(&self) -> f64 {
        self.entries.iter().map(|b| b.days).sum()
    }
}

fn resolve(scope: &Scope, name: &str) -> Result<String, EngagementError> {
    let matches: Vec<&AppScope> = scope
        .apps
        .iter()
        .filter(|a| a.id() == name || a.app == name)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.id()),
        [] => Err(EngagementError::Usage(format!(
            "--app {name}: not an application of the scope"
        ))),
        _ => Err(EngagementError::Usage(format!(
            "--app {name}: several hosts run it: name one as HOST/APP"
        ))),
    }
}

/// The model's estimate of an app, from the fleet.
pub fn model_days(fleet: &FleetReport, a: &AppScope) -> f64 {
    super::scope::find(fleet, &a.host, &a.app).map_or(0.0, |r| r.effort_days)
}

/// The days agreed for an app: the scope's when written, else the model's.
pub fn estimate(fleet: &FleetReport, a: &AppScope) -> f64 {
    a.effort_days.unwrap_or_else(|| model_days(fleet, a))
}

/// One day of the schedule and what is worked on in it, with the share of the day each takes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    pub day: u32,
    /// Beyond the days the engagement has.
    pub over: bool,
    pub items: Vec<Slot>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slot {
    pub what: String,
    pub days: String,
}

/// Lays kick-off, each app in scope (in scope order) and handover end to end over the days,
/// splitting an app across days where it spans them. Days past the engagement's are marked.
pub fn schedule(work: &[(String, f64)], days: u32) -> Vec<Day> {
    let mut items = vec![(
        "kick-off: access, scope and acceptance tests confirmed".to_string(),
        KICKOFF_DAYS,
    )];
    items.extend(
        work.iter()
            .map(|(w, d)| (format!("lift, trial and accept {w}"), *d)),
    );
    items.push(("handover and sign-off".to_string(), HANDOVER_DAYS));
    let mut out: Vec<Day> = Vec::new();
    let mut day = 1u32;
    let mut free = 1.0f64;
    for (what, mut left) in items {
        while left > 1e-9 {
            let take = left.min(free);
            match out.last_mut() {
                Some(d) if d.day == day => {}
                _ => out.push(Day {
                    day,
                    over: day > days,
                    items: Vec::new(),
                }),
            }
            if let Some(d) = out.last_mut() {
                d.items.push(Slot {
                    what: what.clone(),
                    days: super::days(take),
                });
            }
            left -= take;
            free -= take;
            if free <= 1e-9 {
                day += 1;
                free = 1.0;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_fills_days_in_order_and_marks_the_overrun() {
        let s = schedule(&[("a".into(), 0.5), ("b".into(), 1.25)], 2);
        let what: Vec<(u32, Vec<String>)> = s
            .iter()
            .map(|d| {
                (
                    d.day,
                    d.items
                        .iter()
                        .map(|i| format!("{} {}", i.what, i.days))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(what[0].0, 1);
        assert_eq!(what[0].1.len(), 2, "kick-off and a share day 1: {what:?}");
        assert_eq!(what[1].1, vec!["lift, trial and accept b 1".to_string()]);
        assert_eq!(what[2].0, 3);
        assert!(s[2].over, "day 3 is past the 2 days");
        assert!(!s[1].over);
        assert_eq!(
            what[2].1,
            vec![
                "lift, trial and accept b 0.25".to_string(),
                "handover and sign-off 0.5".to_string()
            ]
        );
    }
}
