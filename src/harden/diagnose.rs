//! Why a hardened run failed, from the trace of a run that failed the same way: a write the
//! read-only root refused (and which place of the plan is missing), a call refused for want of
//! a capability the plan does not keep, a call the profile does not allow.

use super::{caps, observed, placement, seccomp};
use crate::plan::AppPlan;
use crate::trial::trace::Trace;
use std::path::Path;

/// One sentence per cause, most telling first.
pub fn explain(app: &AppPlan, trace: &Trace) -> Vec<String> {
    let mut out = Vec::new();
    for (call, errno, path) in observed::refusals(trace) {
        match (errno.as_str(), &path) {
            ("EROFS", Some(path)) if app.hardening.read_only && !placement::placed(app, path) => {
                let dir = Path::new(path)
                    .parent()
                    .map_or_else(|| "/".to_string(), |d| d.to_string_lossy().into_owned());
                out.push(format!(
                    "{call} of {path} failed with EROFS: the root is read-only and no volume or \
                     tmpfs of the plan holds {dir} (add one to the plan's volumes)"
                ));
            }
            _ => {
                let Some(cap) = caps::for_refusal(&call, &errno, app.image.uid) else {
                    continue;
                };
                if app.hardening.grants(cap) || app.hardening.capabilities.is_none() {
                    continue;
                }
                let what = path.map_or_else(|| call.clone(), |p| format!("{call} of {p}"));
                out.push(format!(
                    "{what} failed with {errno}: the app needs {cap}, which the plan does not \
                     keep (hardening.capabilities; run.sh passes --cap-drop=ALL and only the \
                     kept ones)"
                ));
            }
        }
    }
    if app.hardening.seccomp {
        let allowed = seccomp::allowed(&app.hardening.syscalls);
        let outside: Vec<String> = trace
            .syscall_names()
            .into_iter()
            .filter(|c| !allowed.contains(c) && c != "ptrace")
            .collect();
        if !outside.is_empty() {
            out.push(format!(
                "it calls {}, which seccomp.json does not allow (they fail with EPERM under the \
                 profile)",
                outside.join(", ")
            ));
        }
    }
    out.dedup();
    out
}
