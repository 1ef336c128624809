//! Verify: run the lifted image in a real engine and prove it answers as the original did.
//!
//! The container runs with its own network namespace (`run.sh` with `NETWORK=none`), so it listens
//! on exactly the addresses the original listens on without a conflict; the analyzer's probes go
//! to the original on the host and to the lifted app inside the container's namespace, and their
//! answers are compared.

mod engine;
pub mod probe;

use crate::plan::AppPlan;
use probe::Outcome;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use engine::Engine;

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
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub app: String,
    pub image: String,
    pub container: String,
    pub ready_after_ms: Option<u128>,
    pub probes: Vec<ProbeResult>,
    pub verdict: Verdict,
    /// The container's last log lines, for a failure's why.
    pub logs_tail: Vec<String>,
}

pub fn verify(app_dir: &Path, opts: &Options) -> Result<Report, VerifyError> {
    let plan = crate::plan::load(&app_dir.join("plan.yaml"))?;
    let app = plan
        .apps
        .first()
        .ok_or_else(|| VerifyError::Empty(app_dir.join("plan.yaml")))?;
    let container = format!("liftkit-verify-{}-{}", app.slug(), std::process::id());
    let engine = &opts.engine;
    engine.start(app_dir, &container)?;
    let result = probe_all(app, engine, &container, opts);
    let logs_tail = engine.logs_tail(&container, 20);
    if !opts.keep {
        engine.remove(&container);
    }
    let (ready_after_ms, probes) = result?;
    let verdict = verdict(ready_after_ms.is_some(), &probes);
    let report = Report {
        app: app.name.clone(),
        image: app.image.name.clone(),
        container,
        ready_after_ms,
        probes,
        verdict,
        logs_tail,
    };
    let path = app_dir.join("verify.json");
    let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other);
    json.and_then(|j| crate::fsutil::write_atomic(&path, (j + "\n").as_bytes()))
        .map_err(|source| VerifyError::Io { path, source })?;
    record_in_report(app_dir, &report);
    Ok(report)
}

type Probed = (Option<u128>, Vec<ProbeResult>);

fn probe_all(
    app: &AppPlan,
    engine: &Engine,
    container: &str,
    opts: &Options,
) -> Result<Probed, VerifyError> {
    let pid = engine.pid(container)?;
    let addrs = listen_addresses(app);
    let started = Instant::now();
    let ready = crate::os::netns::run_in(pid, || wait_listening(&addrs, opts.timeout))
        .map_err(|e| VerifyError::Engine(format!("cannot enter the container's network: {e}")))?;
    let ready_after_ms = ready.then(|| started.elapsed().as_millis());
    let mut results = Vec::new();
    if ready_after_ms.is_none() {
        return Ok((None, results));
    }
    // Listening is not serving for servers that bind before they are ready (Tomcat deploys
    // after binding, PostgreSQL replays its WAL): a failed probe is retried until the timeout.
    for p in &app.probes {
        let targets: Vec<SocketAddr> = if p.tcp.is_some() {
            addrs.clone()
        } else {
            addrs.iter().take(1).copied().collect()
        };
        for addr in targets {
            let deadline = started + opts.timeout;
            let lifted = crate::os::netns::run_in(pid, || probe::run_until_ok(p, addr, deadline))
                .unwrap_or_else(|e| Outcome::Failed(e.to_string()));
            // The check's connection must be closed before the probe: a single-threaded server
            // (a gunicorn sync worker) would serve it first and leave the probe waiting.
            let original_up = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok();
            let original = original_up.then(|| probe::run(p, addr));
            let same = original.as_ref().map(|o| *o == lifted);
            results.push(ProbeResult {
                probe: probe::describe(p),
                address: addr.to_string(),
                original,
                lifted,
                same,
            });
        }
    }
    Ok((ready_after_ms, results))
}

/// The engagement report beside the image shows the verify result; an output without a report
/// (an older build) simply has none to update.
fn record_in_report(app_dir: &Path, report: &Report) {
    let checks = report
        .probes
        .iter()
        .map(|p| crate::report::VerifyCheck {
            name: format!("{} at {}", p.probe, p.address),
            passed: p.lifted.ok() && p.same != Some(false),
            detail: match (&p.original, p.same) {
                (None, _) => format!("lifted: {}; original not reachable", p.lifted),
                (Some(_), Some(true)) => format!("lifted: {}; same as the original", p.lifted),
                (Some(o), _) => format!("lifted: {}; original: {o}", p.lifted),
            },
        })
        .collect();
    let summary = crate::report::VerifySummary {
        passed: report.verdict == Verdict::Same,
        summary: format!("{:?} ({} probes)", report.verdict, report.probes.len()),
        checks,
    };
    let _ = crate::report::set_verify(app_dir, summary);
}

fn verdict(ready: bool, probes: &[ProbeResult]) -> Verdict {
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

fn wait_listening(addrs: &[SocketAddr], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
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
