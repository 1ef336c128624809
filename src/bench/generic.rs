//! `liftkit bench generic`: the generic path on services nobody wrote an analyzer for. Each
//! corpus service (`testbed`) is started legacy-style, lifted by pid, stopped and run from its
//! image; a row says whether it answered the same, with analyzers on and with `--generic`
//! (analyzers off), with the image size, the trial's rounds and additions and the lift's time.

use super::testbed::{self, Lifted, Request, Service};
use super::BenchError;
use std::path::Path;

/// The services named, or the whole corpus and the analyzed stacks when none is.
pub fn chosen(names: &[String]) -> Result<Vec<&'static Service>, BenchError> {
    if names.is_empty() {
        return Ok(testbed::SERVICES.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            testbed::service(n).ok_or_else(|| {
                let known: Vec<&str> = testbed::SERVICES.iter().map(|s| s.name).collect();
                BenchError::Failed(format!(
                    "no corpus service {n:?} (known: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// One row per service and pass (analyzers on, then off unless `analyzed_only`); a service
/// that cannot be measured (not installed, does not start) is said on stderr and left out.
pub fn measure(
    services: &[&'static Service],
    analyzed_only: bool,
    liftkit: &Path,
) -> Result<Vec<Lifted>, BenchError> {
    let engine = std::env::var("ENGINE").unwrap_or_else(|_| "podman".to_string());
    let run_flags = std::env::var("ENGINE_RUN_FLAGS").unwrap_or_default();
    let work = super::workdir("generic")?;
    let mut rows = Vec::new();
    let total = services.len() * passes(analyzed_only).len();
    let mut done = 0;
    for &generic in passes(analyzed_only) {
        for s in services {
            let req = Request {
                liftkit,
                engine: &engine,
                run_flags: &run_flags,
                generic,
                extra_args: &[],
            };
            let dir = work.join(if generic { "generic" } else { "analyzed" });
            done += 1;
            let pass = if generic { "--generic" } else { "analyzers on" };
            // A corpus takes tens of minutes: each service says how it went as it ends.
            match testbed::lift_and_compare(s, &dir, &req) {
                Ok(r) => {
                    eprintln!(
                        "[{done}/{total}] {} ({pass}): {} in {:.1} s",
                        s.name,
                        if r.same {
                            "same answer"
                        } else if r.lifted {
                            "answers differently"
                        } else {
                            "not lifted"
                        },
                        r.lift_seconds
                    );
                    rows.push(r)
                }
                Err(e) => eprintln!("[{done}/{total}] {} ({pass}): not measured: {e}", s.name),
            }
        }
    }
    Ok(rows)
}

/// `--generic` off, then on.
pub fn passes(analyzed_only: bool) -> &'static [bool] {
    if analyzed_only {
        &[false]
    } else {
        &[false, true]
    }
}
