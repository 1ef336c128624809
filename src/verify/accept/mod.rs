//! Acceptance tests: the checks a customer agreed to before the lift, run against the lifted app
//! and recorded with their evidence.
//!
//! A test is one check and what it must give: an HTTP request (status, body digest), a TCP
//! connect, bytes sent and a pattern the answer must match, or a command run inside the lifted
//! container (exit status, a pattern its output must match). A test may also require the answer
//! to be the original's, as verify compares them: the analyzer's probes become such tests.
//!
//! The container runs as verify runs it (run.sh, its own network namespace), once for all of an
//! app's tests. Every outcome is kept, a failure with its evidence as much as a pass; a container
//! that does not start is a recorded failure too, not an error.

mod checks;
mod definition;

pub use definition::{Origin, Test};

use super::sandbox::{Extra, Sandbox, StartError};
use super::{listen_addresses, wait_listening, Engine, VerifyError};
use crate::plan::AppPlan;
use crate::verify::probe::Outcome;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    /// How long the lifted app may take to listen (and a probe to answer).
    pub timeout: Duration,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandRun {
    pub argv: Vec<String>,
    /// `None` when it did not end on its own (killed at the timeout) or could not be started.
    pub exit: Option<i32>,
    /// Standard output then standard error, the first 4 KiB.
    pub output_head: String,
    pub output_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub from: Origin,
    pub action: String,
    pub expected: String,
    pub passed: bool,
    /// Why it passed or failed, in a sentence.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Outcome>,
    /// The original's answer to the same probe, when it was reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandRun>,
}

/// One app's acceptance run, as `out/<app>/acceptance.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acceptance {
    pub app: String,
    pub image: String,
    /// The app listened on every address it had (or, with none, its container kept running).
    pub ready: bool,
    /// Why the app could not be tested at all (it did not start), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub results: Vec<TestResult>,
    /// Every test passed (and there was at least one).
    pub passed: bool,
    /// Resident memory of the lifted app's processes after its tests, KiB (0: not measured).
    pub rss_kib: u64,
    pub logs_tail: Vec<String>,
}

impl Acceptance {
    pub fn failed_count(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }

    pub fn load(path: &Path) -> Result<Acceptance, VerifyError> {
        let io = |source| VerifyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        serde_json::from_str(&text).map_err(|e| io(std::io::Error::other(e)))
    }
}

pub const FILE: &str = "acceptance.json";

/// Runs `tests` against the app built in `app_dir`, writes `acceptance.json` there and shows the
/// result in its report. An engine that does not run at all is an error (nothing was learned
/// about the app); an app that does not start is a recorded failure.
pub fn run(app_dir: &Path, tests: &[Test], opts: &Options) -> Result<Acceptance, VerifyError> {
    let plan = crate::plan::load(&app_dir.join("plan.yaml"))?;
    let app = plan
        .apps
        .first()
        .ok_or_else(|| VerifyError::Empty(app_dir.join("plan.yaml")))?;
    let container = format!("liftkit-accept-{}-{}", app.slug(), std::process::id());
    let mut acc = match Sandbox::start(&opts.engine, app_dir, &container, &Extra::default(), false)
    {
        Err(StartError::Engine(e)) => return Err(VerifyError::Engine(e)),
        Err(StartError::Refused(why)) => not_started(app, tests, why, Vec::new()),
        Ok(sandbox) => in_container(app, tests, &sandbox, opts),
    };
    acc.passed =
        acc.failure.is_none() && !acc.results.is_empty() && acc.results.iter().all(|r| r.passed);
    let path = app_dir.join(FILE);
    let json = serde_json::to_string_pretty(&acc).map_err(std::io::Error::other);
    json.and_then(|j| crate::fsutil::write_atomic(&path, (j + "\n").as_bytes()))
        .map_err(|source| VerifyError::Io { path, source })?;
    record_in_report(app_dir, &acc);
    Ok(acc)
}

fn not_started(app: &AppPlan, tests: &[Test], why: String, logs: Vec<String>) -> Acceptance {
    Acceptance {
        app: app.name.clone(),
        image: app.image.name.clone(),
        ready: false,
        results: tests
            .iter()
            .map(|t| TestResult {
                name: t.name.clone(),
                from: t.from,
                action: t.action(),
                expected: t.expectation(),
                passed: false,
                detail: format!("not run: {}", last_line(&why)),
                address: None,
                lifted: None,
                original: None,
                command: None,
            })
            .collect(),
        failure: Some(why),
        passed: false,
        rss_kib: 0,
        logs_tail: logs,
    }
}

/// The last line of an engine's message: its error, after the progress it printed.
pub fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

fn in_container(app: &AppPlan, tests: &[Test], sandbox: &Sandbox, opts: &Options) -> Acceptance {
    let pid = match sandbox.pid() {
        Ok(p) => p,
        Err(why) => return not_started(app, tests, why, sandbox.logs_tail(20)),
    };
    let addrs = listen_addresses(app);
    let started = Instant::now();
    let ready = if addrs.is_empty() {
        Ok(true)
    } else {
        crate::os::netns::run_in(pid, || wait_listening(&addrs, opts.timeout, pid))
    };
    let ready = match ready {
        Ok(r) => r,
        Err(e) => {
            let why = format!("cannot enter the container's network: {e}");
            return not_started(app, tests, why, sandbox.logs_tail(20));
        }
    };
    // Exited while it was awaited: nothing to test (a container that runs but does not listen
    // is tested, and its tests fail with what they got).
    if let Err(why) = sandbox.pid() {
        return not_started(app, tests, why, sandbox.logs_tail(20));
    }
    let deadline = started + opts.timeout;
    let results = tests
        .iter()
        .map(|t| match &t.command {
            Some(argv) => checks::command_test(t, sandbox, argv, opts.timeout),
            None => checks::probe_test(t, pid, &addrs, deadline),
        })
        .collect();
    Acceptance {
        app: app.name.clone(),
        image: app.image.name.clone(),
        ready,
        failure: None,
        results,
        passed: false,
        rss_kib: tree_rss_kib(pid),
        logs_tail: sandbox.logs_tail(20),
    }
}

/// The resident memory of a process and its descendants on this machine, KiB: the lifted app's
/// processes, seen from the engine's side.
fn tree_rss_kib(root: i32) -> u64 {
    let Ok(all) = procfs::process::all_processes() else {
        return 0;
    };
    let mut parent = std::collections::HashMap::new();
    let mut rss = std::collections::HashMap::new();
    for p in all.flatten() {
        if let (Ok(stat), Ok(status)) = (p.stat(), p.status()) {
            parent.insert(stat.pid, stat.ppid);
            rss.insert(stat.pid, status.vmrss.unwrap_or(0));
        }
    }
    let in_tree = |mut pid: i32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parent.get(&pid) {
                Some(&pp) if pp > 0 => pid = pp,
                _ => return false,
            }
        }
        false
    };
    rss.iter()
        .filter(|(pid, _)| in_tree(**pid))
        .map(|(_, kib)| kib)
        .sum()
}

/// The report beside the image shows the acceptance result, test by test.
fn record_in_report(app_dir: &Path, acc: &Acceptance) {
    let mut checks: Vec<crate::report::VerifyCheck> = acc
        .results
        .iter()
        .map(|r| crate::report::VerifyCheck {
            name: format!("{} ({}): {}", r.name, r.from.as_str(), r.action),
            passed: r.passed,
            detail: r.detail.clone(),
        })
        .collect();
    if let Some(why) = &acc.failure {
        checks.insert(
            0,
            crate::report::VerifyCheck {
                name: "start".to_string(),
                passed: false,
                detail: why.clone(),
            },
        );
    }
    let failed = acc.failed_count();
    let summary = crate::report::VerifySummary {
        passed: acc.passed,
        summary: if acc.passed {
            format!("acceptance: all {} tests passed", acc.results.len())
        } else {
            format!("acceptance: {failed} of {} tests failed", acc.results.len())
        },
        checks,
    };
    let _ = crate::report::set_verify(app_dir, summary);
}
