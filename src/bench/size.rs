//! `liftkit bench size`: how close the lifted image comes to what the application really touches.
//!
//! Starts nginx and redis (the testbed's legacy starters) under `strace -f`, serves a small
//! workload, lifts each with liftkit, and compares the image's files with the traced set: recall
//! (every traced file that exists on disk is in the image, or is state the plan keeps out of it
//! on purpose) and image bytes / traced bytes.

use super::testbed::{self, Launch, Running};
use super::{io, BenchError};
use crate::plan::AppPlan;
use regex::Regex;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub app: String,
    pub traced_files: usize,
    pub traced_bytes: u64,
    pub covered: usize,
    /// Traced files that are state or logs the plan keeps out of the image on purpose.
    pub kept_out: BTreeMap<String, String>,
    pub missing: Vec<String>,
    pub recall_percent: f64,
    pub image_files: usize,
    pub image_bytes: u64,
    pub ratio: f64,
}

/// The applications this benchmark knows: how each is started and what it is asked.
type Starter = fn(&Path, u16, &Launch) -> Result<Running, testbed::TestbedError>;
type Workload = fn(u16) -> Result<(), String>;
const APPS: &[(&str, Starter, Workload)] = &[
    ("nginx", testbed::nginx::start_with, nginx_workload),
    ("redis", testbed::redis::start_with, redis_workload),
];

/// Measures each of `apps` (nginx, redis) in `work`, lifting with the `liftkit` binary.
pub fn measure(apps: &[String], work: &Path, liftkit: &Path) -> Result<Vec<Figures>, BenchError> {
    super::require(
        &["strace", "nginx", "redis-server"],
        "strace nginx-light redis-server",
    )?;
    let mut all = Vec::new();
    for app in apps {
        let Some((_, start, workload)) = APPS.iter().find(|(n, _, _)| n == app) else {
            return Err(BenchError::Failed(format!(
                "no size benchmark for {app:?} (known: nginx, redis)"
            )));
        };
        let dir = work.join(app);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        testbed::set_mode(&dir, 0o755)?;
        all.push(measure_one(&dir, app, *start, *workload, liftkit)?);
    }
    Ok(all)
}

fn measure_one(
    dir: &Path,
    app: &str,
    start: Starter,
    workload: Workload,
    liftkit: &Path,
) -> Result<Figures, BenchError> {
    let trace = dir.join("trace.txt");
    let port = testbed::free_port();
    let mut running = start(dir, port, &Launch::Traced(trace.clone()))?;
    let out = dir.join("out");
    let lifted = (|| {
        workload(port).map_err(BenchError::Failed)?;
        let status = Command::new(liftkit)
            .args(["lift", "--pid", &running.pid.to_string(), "--force", "-o"])
            .arg(&out)
            .output()
            .map_err(io(liftkit))?;
        if !status.status.success() {
            return Err(BenchError::Failed(format!(
                "lift of {app} failed: {}",
                String::from_utf8_lossy(&status.stderr)
            )));
        }
        Ok(())
    })();
    // Stopped before the trace is read: strace writes its last lines as the daemon exits.
    running.stop();
    lifted?;
    let app_dir = testbed::app_dir(&out)
        .ok_or_else(|| BenchError::Failed(format!("{}: no built app", out.display())))?;
    let plan = crate::plan::load(&out.join("plan.yaml"))?;
    compare(app, &trace, &app_dir, &plan.apps[0])
}

fn nginx_workload(port: u16) -> Result<(), String> {
    for path in ["/", "/no-such-page"] {
        testbed::http_get(port, path)?;
    }
    Ok(())
}

fn redis_workload(port: u16) -> Result<(), String> {
    for cmd in ["PING", "SET bench value", "GET bench", "SAVE"] {
        testbed::exchange(port, format!("{cmd}\r\n").as_bytes(), Some(b"\r\n"))?;
    }
    Ok(())
}

fn compare(app: &str, trace: &Path, app_dir: &Path, plan: &AppPlan) -> Result<Figures, BenchError> {
    compare_files(app, &traced_files(trace)?, app_dir, plan)
}

/// Files the engine itself gives every container (bind-mounted over the image): not content
/// the lift could or should carry.
const ENGINE_FILES: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/run/.containerenv",
];

/// The same figures with the trial run's trace as the working set (`trial.json`: what the
/// lifted app read and wrote inside its image while it started and answered the probes), for
/// services nobody traced on the host: the generic corpus.
/// `trial`: the app's `trial.json`, parsed.
pub fn from_trial(
    app: &str,
    trial: &serde_json::Value,
    app_dir: &Path,
    plan: &AppPlan,
) -> Result<Figures, BenchError> {
    let mut traced = BTreeMap::new();
    for (key, written) in [("read", false), ("written", true)] {
        for p in trial["last_trace"][key].as_array().into_iter().flatten() {
            if let Some(p) = p.as_str().filter(|p| !ENGINE_FILES.contains(p)) {
                *traced.entry(p.to_string()).or_default() |= written;
            }
        }
    }
    if traced.is_empty() {
        return Err(BenchError::Failed(format!(
            "{}: the trial recorded no trace",
            app_dir.join("trial.json").display()
        )));
    }
    compare_files(app, &traced, app_dir, plan)
}

fn compare_files(
    app: &str,
    traced: &BTreeMap<String, bool>,
    app_dir: &Path,
    plan: &AppPlan,
) -> Result<Figures, BenchError> {
    let (image_real, image_bytes, image_files) = image_contents(app_dir)?;
    let mut covered = 0;
    let mut traced_bytes = 0;
    let mut kept_out = BTreeMap::new();
    let mut missing = Vec::new();
    for (path, written) in traced {
        let Ok(real) = std::fs::canonicalize(path) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if let Some(why) = kept_out_reason(path, &real, *written, plan) {
            kept_out.insert(path.clone(), why);
            continue;
        }
        traced_bytes += meta.len();
        if image_real.contains(&real) {
            covered += 1;
        } else {
            missing.push(path.clone());
        }
    }
    let counted = covered + missing.len();
    Ok(Figures {
        app: app.to_string(),
        traced_files: counted,
        traced_bytes,
        covered,
        kept_out,
        missing,
        recall_percent: if counted == 0 {
            0.0
        } else {
            100.0 * covered as f64 / counted as f64
        },
        image_files,
        image_bytes,
        ratio: if traced_bytes == 0 {
            0.0
        } else {
            image_bytes as f64 / traced_bytes as f64
        },
    })
}

/// State and logs are not image content: the plan makes them volumes, tmpfs or links to the
/// engine's log streams, and accounts generated from the snapshot replace the host's.
fn kept_out_reason(path: &str, real: &Path, written: bool, plan: &AppPlan) -> Option<String> {
    let under = |dir: &str| real.starts_with(dir) || Path::new(path).starts_with(dir);
    if let Some(v) = plan.volumes.iter().find(|v| under(&v.path)) {
        return Some(format!("volume {}", v.path));
    }
    if let Some(l) = plan.links.iter().find(|l| l.path == path) {
        return Some(format!("log sent to {}", l.target));
    }
    if let Some(s) = plan.secrets.iter().find(|s| s.path == path) {
        return Some(format!("{}: a secret, mounted at run time", s.kind));
    }
    if let Some(g) = plan.generated.iter().find(|g| g.path == path) {
        return Some(format!("generated: {}", g.why));
    }
    if written {
        return Some("written by the application at run time".to_string());
    }
    None
}

/// Every path a traced syscall named and succeeded on, with whether it was opened for writing.
fn traced_files(trace: &Path) -> Result<BTreeMap<String, bool>, BenchError> {
    let text = std::fs::read_to_string(trace).map_err(io(trace))?;
    let line = Regex::new(r#"^\d+\s+(\w+)\((?:AT_FDCWD, |\d+, )?"([^"]+)"(.*)\) = (-?\d+)"#)
        .expect("valid regex");
    let mut files: BTreeMap<String, bool> = BTreeMap::new();
    for l in text.lines() {
        let Some(c) = line.captures(l) else { continue };
        let (call, path, rest, result) = (&c[1], &c[2], &c[3], &c[4]);
        if result.starts_with('-') || !path.starts_with('/') {
            continue;
        }
        if ["/proc/", "/sys/", "/dev/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            continue;
        }
        let counted = matches!(
            call,
            "open"
                | "openat"
                | "execve"
                | "stat"
                | "newfstatat"
                | "access"
                | "faccessat"
                | "faccessat2"
                | "readlink"
                | "statx"
        );
        if !counted {
            continue;
        }
        let writes =
            rest.contains("O_WRONLY") || rest.contains("O_RDWR") || rest.contains("O_CREAT");
        *files.entry(path.to_string()).or_default() |= writes;
    }
    Ok(files)
}

/// Real paths (on this host) of the regular files in the image's layer, their bytes and count.
fn image_contents(app_dir: &Path) -> Result<(BTreeSet<PathBuf>, u64, usize), BenchError> {
    let oci = app_dir.join("oci");
    let blob = |digest: &str| {
        oci.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let read_json = |p: PathBuf| -> Result<serde_json::Value, BenchError> {
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| BenchError::Failed(format!("{}: {e}", p.display())))
    };
    let index = read_json(oci.join("index.json"))?;
    let manifest = read_json(blob(
        index["manifests"][0]["digest"].as_str().unwrap_or_default(),
    ))?;
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap_or_default());
    let file = std::fs::File::open(&layer).map_err(io(&layer))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut real = BTreeSet::new();
    let (mut bytes, mut files) = (0, 0);
    for entry in archive.entries().map_err(io(&layer))? {
        let entry = entry.map_err(io(&layer))?;
        if entry.header().entry_type().is_file() {
            let path = Path::new("/").join(entry.path().map_err(io(&layer))?);
            bytes += entry.header().size().map_err(io(&layer))?;
            files += 1;
            real.insert(std::fs::canonicalize(&path).unwrap_or(path));
        }
    }
    Ok((real, bytes, files))
}
