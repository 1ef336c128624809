//! What a trial round's trace asks of the hardening: a volume or tmpfs for each write the
//! read-only root refused, and a capability for each call refused that one allows, when the
//! app did not answer without them (a refusal it survives is noted and proposed, not applied:
//! the least the app needs is what it gets).

use super::{caps, placement};
use crate::host::Host;
use crate::plan::{AppPlan, Grant, Volume};
use crate::trial::syscalls;
use crate::trial::trace::Trace;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Proposals {
    pub volumes: Vec<Volume>,
    pub grants: Vec<Grant>,
    /// What was seen and not acted on, in sentences.
    pub notes: Vec<String>,
}

impl Proposals {
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty() && self.grants.is_empty()
    }
}

/// Each refusal of the trace, as (call, errno, path if any).
pub fn refusals(trace: &Trace) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<(String, String, Option<String>)> = trace
        .denied
        .iter()
        .map(|(path, why)| {
            let mut w = why.split_whitespace();
            let call = w.next().unwrap_or_default().to_string();
            let errno = w.next().unwrap_or_default().to_string();
            (call, errno, Some(path.clone()))
        })
        .collect();
    for (nr, errno) in &trace.refused {
        let call = syscalls::name(trace.arch, *nr).map_or_else(|| format!("#{nr}"), String::from);
        out.push((call, errno.clone(), None));
    }
    out
}

/// What the round's trace asks for; `failed`: the round did not answer as the original.
pub fn from_trace(app: &AppPlan, host: &dyn Host, trace: &Trace, failed: bool) -> Proposals {
    let mut p = Proposals::default();
    if app.hardening.read_only {
        let mut writes: Vec<(String, String)> = trace
            .denied
            .iter()
            .filter(|(_, why)| why.ends_with("EROFS"))
            .map(|(path, why)| {
                (
                    path.clone(),
                    why.split(' ').next().unwrap_or("").to_string(),
                )
            })
            .collect();
        // A file created in a directory the image lacks: the directory must exist *and* be
        // writable.
        writes.extend(
            trace
                .missing_parent
                .iter()
                .filter(|(path, _)| {
                    Path::new(path.as_str())
                        .parent()
                        .is_some_and(|d| host.stat(d).is_ok_and(|m| m.is_dir()))
                })
                .map(|(path, call)| (path.clone(), call.clone())),
        );
        // Shallowest first: a place proposed for /tmp holds what the app writes below it.
        writes.sort_by_key(|(path, _)| (path.matches('/').count(), path.clone()));
        for (path, call) in writes {
            if placement::placed(app, &path)
                || p.volumes
                    .iter()
                    .any(|v| Path::new(&path).starts_with(&v.path))
            {
                continue;
            }
            if path.contains("/__pycache__/") {
                // Python writes its bytecode cache where it can and runs without it.
                continue;
            }
            match placement::propose(app, host, &path, &call) {
                Ok(v) if failed => p.volumes.push(v),
                Ok(v) => p.notes.push(format!(
                    "{path}: its {call} was refused by the read-only root and the app answered anyway; proposed, not applied: a {} at {} (add it to the plan's volumes if the app must write there)",
                    format!("{:?}", v.kind).to_lowercase(),
                    v.path
                )),
                Err(why) => p.notes.push(format!(
                    "{path}: its {call} was refused by the read-only root; no volume proposed: {why}"
                )),
            }
        }
    }
    for (call, errno, path) in refusals(trace) {
        let Some(cap) = caps::for_refusal(&call, &errno, app.image.uid) else {
            continue;
        };
        let what = match &path {
            Some(path) => format!("{call} of {path} was refused ({errno}) in its trial run"),
            None => format!("{call} was refused ({errno}) in its trial run"),
        };
        if app.hardening.grants(cap) || p.grants.iter().any(|g| g.name == cap) {
            continue;
        }
        if failed {
            p.grants.push(Grant {
                name: cap.to_string(),
                why: format!("{what}, and the app did not answer without {cap}"),
            });
        } else {
            p.notes
                .push(format!("{what}; it answered anyway, so {cap} is not kept"));
        }
    }
    p.grants.sort();
    p
}
