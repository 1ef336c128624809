//! Which analyzer knows a process.

use super::spec::Analyzer;
use crate::snapshot::{Process, Snapshot};

pub fn detect<'a>(
    p: &Process,
    _snapshot: &Snapshot,
    analyzers: &'a [Analyzer],
) -> Option<&'a Analyzer> {
    analyzers.iter().find(|a| matches(a, p))
}

fn matches(a: &Analyzer, p: &Process) -> bool {
    let d = &a.detect;
    if d.exe.is_empty() && d.comm.is_empty() {
        return false;
    }
    let exe_ok = !d.exe.is_empty()
        && p.exe.as_deref().is_some_and(|exe| {
            d.exe
                .iter()
                .any(|g| globset::Glob::new(g).is_ok_and(|g| g.compile_matcher().is_match(exe)))
        });
    let comm_ok = d.comm.contains(&p.comm);
    if !(exe_ok || comm_ok) {
        return false;
    }
    let joined = p.cmdline.join(" ");
    d.cmdline.is_empty()
        || d.cmdline
            .iter()
            .any(|r| regex::Regex::new(r).is_ok_and(|r| r.is_match(&joined)))
}
