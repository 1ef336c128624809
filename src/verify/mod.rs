//! Verify: run the lifted image in a real engine and prove it answers as the original did.
//!
//! The container runs with its own network namespace (`run.sh` with `NETWORK=none`), so it listens
//! on exactly the addresses the original listens on without a conflict; the analyzer's probes go
//! to the original on the host and to the lifted app inside the container's namespace, and their
//! answers are compared.

pub mod accept;
mod diagnose;
mod engine;
pub mod inspect;
pub mod probe;
pub mod sandbox;
mod varying;

use crate::plan::{AppPlan, Probe};
use probe::Outcome;
use sandbox::{Extra, Sandbox, StartError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use engine::{Discard, Engine};

#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    /// How long the lifted app may take to listen.
    pub timeout: Duration,
    /// Leave the container running (for a look inside).
    pub keep: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Plan(#[from] crate::plan::LoadError),
    #[error("{0}: the plan holds no application")]
    Empty(PathBuf),
    #[error("{0}")]
    Engine(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every probe answered, and as the original did wherever the original answered.
    Same,
    /// The lifted app answered, but differently from the original somewhere.
    Differs,
    /// The lifted app did not start or did not answer.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub probe: String,
    pub address: String,
    /// `None` when the original is not running here (lifted elsewhere, or stopped).
    pub original: Option<Outcome>,
    pub lifted: Outcome,
    pub same: Option<bool>,
    /// Lines of the page that change between the original's own answers (a date), left out of
    /// the comparison: `same` holds for the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub varying_lines: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub app: String,
    pub image: String,
    pub container: String,
    pub ready_after_ms: Option<u128>,
    pub probes: Vec<ProbeResult>,
    pub verdict: Verdict,
    /// Why it failed, in a sentence (exited at start, did not listen, a probe failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The container's last log lines, for a failure's why.
    pub logs_tail: Vec<String>,
    /// How the engine ran it (read-only root, capabilities, profile), as run.sh asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardening: Option<inspect::Inspected>,
    /// Why a hardened run failed: the write, capability or call it was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<String>,
}

/// `engine` keeping its state beside the app directory (see [`Engine::private`]), for one run
/// of `kind`: the machine's image store and container list stay as they were. Discard it with
/// [`Discard`] when the run ends. A container kept for a look must not use one: the user then
/// reaches it with the engine as they know it.
pub fn private_engine(
    engine: &Engine,
    app_dir: &Path,
    kind: &str,
    slug: &str,
) -> Result<Engine, VerifyError> {
    let dir = app_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".liftkit-{kind}-{}-{slug}", std::process::id()));
    engine
        .private(&dir)
        .map_err(|e| VerifyError::Engine(format!("{}: {e}", dir.display())))
}

pub fn verify(app_dir: &Path, opts: &Options) -> Result<Report, VerifyError> {
    let plan = crate::plan::load(&app_dir.join("plan.yaml"))?;
    let app = plan
        .apps
        .first()
        .ok_or_else(|| VerifyError::Empty(app_dir.join("plan.yaml")))?;
    let container = format!("liftkit-verify-{}-{}", app.slug(), std::process::id());
    let engine = if opts.keep {
        opts.engine.clone()
    } else {
        private_engine(&opts.engine, app_dir, "verify", &app.slug())?
    };
    let _discard = engine::Discard(&engine);
    let observed = match Sandbox::start(&engine, app_dir, &container, &Extra::default(), opts.keep)
    {
        Err(StartError::Engine(e)) => return Err(VerifyError::Engine(e)),
        Err(StartError::Refused(why)) => (Observed::failed(why, Vec::new()), None),
        Ok(sandbox) => {
            let observed = observe(app, &sandbox, &app.probes, opts.timeout);
            (observed, inspect::inspect(&engine, &sandbox.name))
        }
    };
    let (observed, hardening) = observed;
    let verdict = verdict(observed.ready_after_ms.is_some(), &observed.probes);
    let diagnosis = if verdict == Verdict::Failed {
        diagnose::run(app_dir, app, &engine, opts, &observed.logs_tail)
    } else {
        Vec::new()
    };
    let report = Report {
        app: app.name.clone(),
        image: app.image.name.clone(),
        container,
        ready_after_ms: observed.ready_after_ms,
        probes: observed.probes,
        verdict,
        failure: observed
            .failure
            .or_else(|| (verdict == Verdict::Failed).then(|| "a probe did not answer".to_string())),
        logs_tail: observed.logs_tail,
        hardening,
        diagnosis,
    };
    // Every verdict is kept, a failure with its evidence as much as a pass.
    let path = app_dir.join("verify.json");
    let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other);
    json.and_then(|j| crate::fsutil::write_atomic(&path, (j + "\n").as_bytes()))
        .map_err(|source| VerifyError::Io { path, source })?;
    record_in_report(app_dir, &report);
    Ok(report)
}

/// What one look at a running container showed.
#[derive(Debug, Clone)]
pub struct Observed {
    pub ready_after_ms: Option<u128>,
    pub probes: Vec<ProbeResult>,
    /// Why it did not answer: exited at start, never listened, refused by the engine.
    pub failure: Option<String>,
    pub logs_tail: Vec<String>,
}

impl Observed {
    fn failed(why: String, logs_tail: Vec<String>) -> Observed {
        Observed {
            ready_after_ms: None,
            probes: Vec::new(),
            failure: Some(why),
            logs_tail,
        }
    }
}

/// Waits for the app in `sandbox` to listen (at most `timeout`), runs `probes` against it
/// inside its network namespace and against the original on this host, and keeps its logs.
pub fn observe(app: &AppPlan, sandbox: &Sandbox, probes: &[Probe], timeout: Duration) -> Observed {
    let pid = match sandbox.pid() {
        Ok(p) => p,
        Err(why) => return Observed::failed(why, sandbox.logs_tail(20)),
    };
    let addrs = listen_addresses(app);
    let started = Instant::now();
    let ready = match crate::os::netns::run_in(pid, || wait_listening(&addrs, timeout, pid)) {
        Ok(r) => r,
        Err(e) => {
            return Observed::failed(
                format!("cannot enter the container's network: {e}"),
                sandbox.logs_tail(20),
            )
        }
    };
    let Some(ready_after_ms) = ready.then(|| started.elapsed().as_millis()) else {
        let why = match sandbox.pid() {
            Err(exited) => exited,
            Ok(_) if addrs.is_empty() => "the plan names no TCP address to probe".to_string(),
            Ok(_) => format!(
                "it did not listen on {} within {} s",
                addrs
                    .iter()
                    .map(SocketAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                timeout.as_secs()
            ),
        };
        return Observed::failed(why, sandbox.logs_tail(20));
    };
    let mut results = Vec::new();
    // Listening is not serving for servers that bind before they are ready (Tomcat deploys
    // after binding, PostgreSQL replays its WAL): a failed probe is retried until the timeout.
    for p in probes {
        let targets: Vec<SocketAddr> = if p.tcp.is_some() {
            addrs.clone()
        } else {
            addrs.iter().take(1).copied().collect()
        };
        for addr in targets {
            let deadline = started + timeout;
            let lifted = crate::os::netns::run_in(pid, || probe::run_until_ok(p, addr, deadline))
                .unwrap_or_else(|e| Outcome::Failed(e.to_string()));
            // The check's connection must be closed before the probe: a single-threaded server
            // (a gunicorn sync worker) would serve it first and leave the probe waiting.
            let original_up = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok();
            let original = original_up.then(|| probe::run(p, addr));
            let mut same = original.as_ref().map(|o| *o == lifted);
            let mut varying_lines = None;
            if same == Some(false) && same_status(original.as_ref(), &lifted) {
                varying_lines = varying_page(p, addr, pid);
                same = Some(varying_lines.is_some());
            }
            results.push(ProbeResult {
                probe: probe::describe(p),
                address: addr.to_string(),
                original,
                lifted,
                same,
                varying_lines,
            });
        }
    }
    Observed {
        ready_after_ms: Some(ready_after_ms),
        probes: results,
        failure: None,
        logs_tail: sandbox.logs_tail(20),
    }
}

fn same_status(original: Option<&Outcome>, lifted: &Outcome) -> bool {
    matches!(
        (original, lifted),
        (Some(Outcome::Http { status: a, .. }), Outcome::Http { status: b, .. }) if a == b
    )
}

/// An HTTP answer whose digest differs, asked again of the original twice, a second apart (a
/// page's clock ticks in seconds), and of the lifted app between: how many lines vary by
/// themselves when the lifted page has all the others (`varying`).
fn varying_page(p: &Probe, addr: SocketAddr, pid: i32) -> Option<usize> {
    let (status, first) = probe::http_answer(p, addr)?;
    let lifted = crate::os::netns::run_in(pid, || probe::http_answer(p, addr)).ok()??;
    std::thread::sleep(Duration::from_millis(1100));
    let (again, second) = probe::http_answer(p, addr)?;
    if again != status || lifted.0 != status {
        return None;
    }
    varying::same_apart_from_varying(&first, &second, &lifted.1)
}

/// The engagement report beside the image shows the verify result; an output without a report
/// (an older build) simply has none to update.
fn record_in_report(app_dir: &Path, report: &Report) {
    let mut checks: Vec<crate::report::VerifyCheck> = report
        .probes
        .iter()
        .map(|p| crate::report::VerifyCheck {
            name: format!("{} at {}", p.probe, p.address),
            passed: p.lifted.ok() && p.same != Some(false),
            detail: match (&p.original, p.same) {
                (None, _) => format!("lifted: {}; original not reachable", p.lifted),
                (Some(_), Some(true)) => match p.varying_lines {
                    Some(n) => format!(
                        "lifted: {}; same as the original apart from {n} line(s) that change \
                         between the original's own answers",
                        p.lifted
                    ),
                    None => format!("lifted: {}; same as the original", p.lifted),
                },
                (Some(o), _) => format!("lifted: {}; original: {o}", p.lifted),
            },
        })
        .collect();
    for why in &report.diagnosis {
        checks.insert(
            0,
            crate::report::VerifyCheck {
                name: "hardening".to_string(),
                passed: false,
                detail: why.clone(),
            },
        );
    }
    if let Some(why) = &report.failure {
        checks.insert(
            0,
            crate::report::VerifyCheck {
                name: "start".to_string(),
                passed: false,
                detail: format!("{why}; last log lines: {}", report.logs_tail.join(" | ")),
            },
        );
    }
    let summary = crate::report::VerifySummary {
        passed: report.verdict == Verdict::Same,
        summary: match &report.failure {
            Some(why) => format!("{:?}: {why}", report.verdict),
            None => format!("{:?} ({} probes)", report.verdict, report.probes.len()),
        },
        checks,
    };
    let _ = crate::report::set_verify(app_dir, summary);
}

pub fn verdict(ready: bool, probes: &[ProbeResult]) -> Verdict {
    if !ready || probes.iter().any(|p| !p.lifted.ok()) {
        Verdict::Failed
    } else if probes.iter().any(|p| p.same == Some(false)) {
        Verdict::Differs
    } else {
        Verdict::Same
    }
}

/// TCP addresses the app listened on, as reachable from inside its own namespace: a wildcard is
/// reached on loopback.
pub fn listen_addresses(app: &AppPlan) -> Vec<SocketAddr> {
    app.image
        .listen
        .iter()
        .filter_map(|l| l.strip_suffix("/tcp"))
        .filter_map(|a| {
            let a = a
                .replace("0.0.0.0:", "127.0.0.1:")
                .replace("[::]:", "[::1]:");
            a.parse().ok()
        })
        .collect()
}

/// Waits until every address accepts a connection; gives up early when the container's process
/// `pid` is gone (it exited at start: waiting longer would show nothing more).
pub(crate) fn wait_listening(addrs: &[SocketAddr], timeout: Duration, pid: i32) -> bool {
    let deadline = Instant::now() + timeout;
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while Instant::now() < deadline && alive() {
        if !addrs.is_empty()
            && addrs
                .iter()
                .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(500)).is_ok())
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
