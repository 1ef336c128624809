//! Findings sorted the way a reviewer reads them: what blocks the lift, what liftkit could not
//! read, what it guessed, and the rest.
//!
//! Findings carry a level, a subject and a message, not a category, so the split below goes by
//! level and then by the words the collectors and analyzers use ("could not be read", "runtime
//! evidence", …); anything unmatched lands in notes rather than being lost.

use super::model::{FindingRow, FindingsSection};
use crate::built::AppBuild;
use crate::findings::{Finding, Level};
use crate::plan::{AppPlan, Fit};

const UNREADABLE: [&str; 11] = [
    "could not be read",
    "cannot read",
    "unreadable",
    "not readable",
    "permission denied",
    "refused",
    "does not exist",
    "not found",
    "no such file",
    "vanished",
    "missing",
];

const GUESSED: [&str; 9] = [
    "guess",
    "assum",
    "default",
    "runtime evidence",
    "heuristic",
    "inferred",
    "probably",
    "not recognized",
    "unknown",
];

pub fn section(app: &AppPlan, built: &AppBuild) -> FindingsSection {
    let mut s = FindingsSection {
        total: 0,
        blockers: Vec::new(),
        unreadable: Vec::new(),
        guessed: Vec::new(),
        notes: Vec::new(),
    };
    if app.fit == Fit::Poor {
        for reason in &app.fit_reasons {
            s.blockers.push(FindingRow {
                level: "fit".to_string(),
                subject: app.name.clone(),
                message: reason.clone(),
            });
        }
    }
    let mut all: Vec<&Finding> = app.findings.iter().chain(&built.findings).collect();
    all.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.cmp(b)));
    all.dedup();
    s.total = all.len();
    for f in all {
        let row = FindingRow {
            level: f.level.to_string(),
            subject: f.subject.clone(),
            message: f.message.clone(),
        };
        let text = f.message.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if f.level == Level::Error {
            s.blockers.push(row);
        } else if f.is_guess() {
            s.guessed.push(row);
        } else if has(&UNREADABLE) {
            s.unreadable.push(row);
        } else if has(&GUESSED) {
            s.guessed.push(row);
        } else {
            s.notes.push(row);
        }
    }
    s
}
