//! Why a hardened app failed verify: the same start again, traced by its supervisor (as in the
//! trial run), and each refusal explained against the plan's hardening (which write the
//! read-only root refused, which capability the plan does not keep, which call the profile
//! does not allow); without a trace, the lines of its log that say so.

use super::sandbox::{Extra, Sandbox};
use super::{Engine, Options};
use crate::plan::AppPlan;
use crate::trial::{TraceDir, TRACE_DIR, TRACE_ENV, TRACE_FILE};
use std::path::Path;
use std::time::Duration;

/// A traced second look waits at most this long for the app to listen.
const TRACED_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(
    app_dir: &Path,
    app: &AppPlan,
    engine: &Engine,
    opts: &Options,
    logs: &[String],
) -> Vec<String> {
    let mut out = if app.image.supervisor {
        traced(app_dir, app, engine, opts)
    } else {
        Vec::new()
    };
    if out.is_empty() {
        out = from_logs(logs);
    }
    out
}

fn traced(app_dir: &Path, app: &AppPlan, engine: &Engine, opts: &Options) -> Vec<String> {
    let out = app_dir.parent().unwrap_or(Path::new("."));
    let Ok(work) = TraceDir::new(out, &format!("verify-{}", app.slug())) else {
        return Vec::new();
    };
    let name = format!("liftkit-verify-trace-{}-{}", app.slug(), std::process::id());
    let extra = Extra {
        env: vec![(TRACE_ENV.to_string(), TRACE_FILE.to_string())],
        mounts: vec![(work.dir.clone(), TRACE_DIR.to_string())],
        cap_add: vec!["SYS_PTRACE".to_string()],
        engine_seccomp: true,
    };
    let Ok(sandbox) = Sandbox::start(engine, app_dir, &name, &extra, false) else {
        return Vec::new();
    };
    let _ = super::observe(app, &sandbox, &app.probes, opts.timeout.min(TRACED_TIMEOUT));
    sandbox.stop(5);
    drop(sandbox);
    work.trace()
        .map(|t| crate::harden::diagnose::explain(app, &t))
        .unwrap_or_default()
}

/// The app's own words for a refusal, when there is no trace to read.
fn from_logs(logs: &[String]) -> Vec<String> {
    logs.iter()
        .filter_map(|l| {
            if l.contains("Read-only file system") {
                Some(format!(
                    "the app could not write a file on the read-only root: {l}"
                ))
            } else if l.contains("Operation not permitted") {
                Some(format!(
                    "the app was refused a call (a capability the plan does not keep, or the \
                     system call profile): {l}"
                ))
            } else {
                None
            }
        })
        .take(5)
        .collect()
}
