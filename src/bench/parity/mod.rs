//! `liftkit bench parity`: the original and its lifted, hardened image side by side under the
//! same load. Each app (nginx, redis, PostgreSQL) is started legacy-style, lifted with the
//! hardening and its own system call profile, and its image started through run.sh in its own
//! network namespace (as verify runs it), so both listen on the same loopback address. Then,
//! round after round, the same bounded load loop runs against the original and against the
//! image: requests per second, p99 latency, peak memory of the process tree and CPU seconds per
//! 10,000 requests; the figure kept is each side's median over the rounds, and the throughput
//! ratio is the median of each round's ratio, with the original's own spread beside it (a 2-core
//! virtual machine moves by more than 5% from one second to the next). The original runs in a
//! CPU cgroup of its own, as the image does (see `cgroup`).

pub mod affinity;
pub mod cgroup;
pub mod load;
pub mod usage;

use crate::bench::testbed::{self, Running};
use crate::verify::sandbox::{Extra, Sandbox};
use crate::verify::Engine;
use load::Protocol;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const APPS: &[&str] = &["nginx", "redis", "postgres"];

#[derive(Debug, Clone)]
pub struct Request {
    pub liftkit: PathBuf,
    pub engine: Engine,
    pub requests: u64,
    pub connections: usize,
    pub rounds: usize,
    /// Pin the server to one CPU and the load loop to the others (see `affinity`).
    pub pin: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub peak_rss_bytes: u64,
    pub peak_pss_bytes: u64,
    /// The anonymous part of PSS (heap, stacks): what the program itself holds.
    pub peak_pss_anon_bytes: u64,
    /// The server's process tree and, for the image, the engine's monitor (conmon).
    pub cpu_seconds_per_10k: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parity {
    pub app: String,
    pub requests: u64,
    pub connections: usize,
    pub rounds: usize,
    pub original: Side,
    pub lifted: Side,
    /// The same plan with `--logs files`: the logs written to files as on the host, in a volume,
    /// not through the engine's log pipe (None when the plan sends no log there).
    pub lifted_file_logs: Option<Side>,
    /// lifted / original, as percentages (throughput: the median of each round's ratio).
    pub throughput_percent: f64,
    /// Half the range of the original's own throughput over the rounds, as a percentage of its
    /// median: this machine's noise in the same run.
    pub original_spread_percent: f64,
    /// The anonymous memory of the lifted image's own pid 1 (liftkit's supervisor), counted in
    /// the lifted side's figures.
    pub supervisor_pss_anon_bytes: u64,
    pub memory_percent: f64,
    /// lifted / original, anonymous PSS only.
    pub anon_memory_percent: f64,
    /// The same without liftkit's pid 1: the app's own processes against the original's.
    pub app_anon_memory_percent: f64,
    pub cpu_percent: f64,
    /// lifted with file logs / original.
    pub file_logs_throughput_percent: Option<f64>,
    /// Why the original ran without a CPU cgroup of its own (as the engine gives the image
    /// one), if it did: then the two sides did not meet the load on equal terms.
    pub original_cgroup_missing: Option<String>,
    /// Where each side ran: "server on CPU 1, load on CPU 0", or why nothing was pinned.
    pub pinning: String,
    /// How the lifted image ran: read-only root, capabilities, profile.
    pub hardening: Option<crate::verify::inspect::Inspected>,
    /// Where its plan lets it write, and the size of its profile.
    pub placements: Placements,
}

/// The lifted plan's places for writes, and its system call profile's size.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Placements {
    pub tmpfs: Vec<String>,
    pub volumes: Vec<String>,
    pub profile_syscalls: usize,
}

impl Placements {
    fn of(plan: &crate::plan::Plan) -> Placements {
        let mut p = Placements::default();
        for app in &plan.apps {
            for v in &app.volumes {
                match v.kind {
                    crate::plan::VolumeKind::Tmpfs => p.tmpfs.push(v.path.clone()),
                    crate::plan::VolumeKind::Volume => p.volumes.push(v.path.clone()),
                }
            }
            p.profile_syscalls += app.hardening.syscalls.len();
        }
        p
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    #[error(transparent)]
    Testbed(#[from] testbed::TestbedError),
    #[error("{app}: {what}")]
    Step { app: String, what: String },
}

fn step(app: &str) -> impl Fn(String) -> ParityError + '_ {
    move |what| ParityError::Step {
        app: app.to_string(),
        what,
    }
}

fn protocol(app: &str) -> Option<Protocol> {
    match app {
        "nginx" => Some(Protocol::Http),
        "redis" => Some(Protocol::Redis),
        "postgres" => Some(Protocol::Postgres),
        _ => None,
    }
}

fn start_original(app: &str, dir: &Path, port: u16) -> Result<Running, ParityError> {
    Ok(match app {
        "nginx" => testbed::nginx::start(dir, port)?,
        "redis" => testbed::redis::start(dir, port)?,
        _ => testbed::postgres::start(dir, port)?,
    })
}

/// One app, measured: original and lifted image alternately, `rounds` times each.
pub fn measure(app: &str, work: &Path, req: &Request) -> Result<Parity, ParityError> {
    let proto = protocol(app).ok_or_else(|| step(app)(format!("not one of {APPS:?}")))?;
    let dir = work.join(app);
    std::fs::create_dir_all(&dir).map_err(testbed::io(&dir))?;
    testbed::set_mode(work, 0o755)?;
    testbed::set_mode(&dir, 0o755)?;
    let port = testbed::free_port();
    // Declared before the original, so dropped after it has stopped.
    let group = cgroup::Group::create(&format!("liftkit-parity-{app}-{}", std::process::id()));
    let original = start_original(app, &dir, port)?;
    let original_cgroup = group
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|g| g.adopt(&usage::tree(original.pid)))
        .err();
    let app_dir = lift(app, &dir, original.pid, req)?;
    let name = format!("liftkit-parity-{app}-{}", std::process::id());
    let sandbox = Sandbox::start(&req.engine, &app_dir, &name, &Extra::default(), false)
        .map_err(|e| step(app)(format!("the lifted image did not start: {e:?}")))?;
    let lifted_pid = sandbox.pid().map_err(step(app))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_ready(proto, addr, Some(lifted_pid)).map_err(step(app))?;
    let hardening = crate::verify::inspect::inspect(&req.engine, &name);
    let file_logs = match file_logs_variant(app, &dir, &app_dir, req)? {
        Some(files_dir) => {
            let sandbox = Sandbox::start(
                &req.engine,
                &files_dir,
                &format!("{name}-file-logs"),
                &Extra::default(),
                false,
            )
            .map_err(|e| step(app)(format!("the file-logs image did not start: {e:?}")))?;
            let pid = sandbox.pid().map_err(step(app))?;
            wait_ready(proto, addr, Some(pid)).map_err(step(app))?;
            Some((sandbox, pid))
        }
        None => None,
    };
    let file_logs_pid = file_logs.as_ref().map(|(_, pid)| *pid);
    let split = req.pin.then(affinity::split).flatten();
    let pinning = match (&split, req.pin) {
        (Some((server, load)), _) => format!("server on CPU {server}, load on CPUs {load:?}"),
        (None, true) => "not pinned: one CPU here".to_string(),
        (None, false) => "not pinned (--no-pin)".to_string(),
    };
    let load_cpus = split.as_ref().map(|(_, l)| l.as_slice());
    let server_cpu = split.as_ref().map(|(s, _)| *s);
    // Warm all up (caches, worker start-up) before anything is measured.
    for netns in [None, Some(lifted_pid)]
        .into_iter()
        .chain(file_logs_pid.map(Some))
    {
        if let Some(cpu) = server_cpu {
            let server = netns.unwrap_or(original.pid);
            affinity::pin_processes(&affinity::serving(server), cpu).map_err(step(app))?;
        }
        let n = req.requests / 10 + 100;
        load::run(proto, addr, n, req.connections, netns, load_cpus).map_err(step(app))?;
    }
    // Each side's runs, in the order [original, lifted, file-logs].
    let mut sides: Vec<(i32, Option<i32>)> =
        vec![(original.pid, None), (lifted_pid, Some(lifted_pid))];
    sides.extend(file_logs_pid.map(|pid| (pid, Some(pid))));
    let mut runs: Vec<Vec<Side>> = vec![Vec::new(); sides.len()];
    for round in 0..req.rounds.max(1) {
        // Every other round in the reverse order: a machine that drifts (another guest on the
        // hypervisor, a CPU's frequency) then favours no side.
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (root, netns) = sides[i];
            let pin = (server_cpu, load_cpus);
            runs[i].push(one_run(proto, addr, root, netns, pin, req).map_err(step(app))?);
        }
    }
    let supervisor = usage::own_memory(lifted_pid);
    let placements = crate::plan::load(&app_dir.join("plan.yaml"))
        .map(|p| Placements::of(&p))
        .unwrap_or_default();
    drop(sandbox);
    drop(file_logs);
    let _ = std::fs::remove_dir_all(&app_dir);
    let (o, l) = (median(&runs[0]), median(&runs[1]));
    let f = runs.get(2).map(|r| median(r));
    let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
    let rps = |s: &Side| s.requests_per_second;
    Ok(Parity {
        file_logs_throughput_percent: runs.get(2).map(|r| paired_percent(r, &runs[0], rps)),
        lifted_file_logs: f,
        app: app.to_string(),
        requests: req.requests,
        connections: req.connections,
        rounds: req.rounds.max(1),
        throughput_percent: paired_percent(&runs[1], &runs[0], rps),
        original_spread_percent: spread_percent(&runs[0], rps),
        supervisor_pss_anon_bytes: supervisor.pss_anon,
        memory_percent: pct(l.peak_pss_bytes as f64, o.peak_pss_bytes as f64),
        anon_memory_percent: pct(l.peak_pss_anon_bytes as f64, o.peak_pss_anon_bytes as f64),
        app_anon_memory_percent: pct(
            l.peak_pss_anon_bytes.saturating_sub(supervisor.pss_anon) as f64,
            o.peak_pss_anon_bytes as f64,
        ),
        cpu_percent: pct(l.cpu_seconds_per_10k, o.cpu_seconds_per_10k),
        original: o,
        lifted: l,
        hardening,
        placements,
        pinning,
        original_cgroup_missing: original_cgroup,
    })
}

/// Runs liftkit with the engine of the bench; a failure is the step `what`, with its stderr.
fn run_liftkit(
    app: &str,
    req: &Request,
    args: &[&std::ffi::OsStr],
    what: &str,
) -> Result<(), ParityError> {
    let o = Command::new(&req.liftkit)
        .args(args)
        .env("ENGINE", &req.engine.command)
        .env("ENGINE_RUN_FLAGS", &req.engine.run_flags)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| step(app)(format!("cannot run liftkit: {e}")))?;
    if !o.status.success() {
        return Err(step(app)(format!(
            "{what} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(())
}

/// `liftkit lift --seccomp` of the running original: the hardened image with its profile.
fn lift(app: &str, dir: &Path, pid: i32, req: &Request) -> Result<PathBuf, ParityError> {
    let out = dir.join("out");
    let pid = pid.to_string();
    let args = ["lift", "--seccomp", "--force", "--pid", &pid, "-o"];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    args.push(out.as_os_str());
    run_liftkit(app, req, &args, "lift")?;
    std::fs::read_dir(&out)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("build.json").exists())
        .ok_or_else(|| step(app)("the lift built no image".to_string()))
}

/// The lifted plan with its logs routed to files (`--logs files`: each log a file again, in a
/// volume for its directory), built beside the first: the app then writes its logs as it did
/// on the host. The engine's log pipe costs a context switch and a copy per line (for nginx's
/// access log, a line per request). None when the plan sends no log to the engine.
fn file_logs_variant(
    app: &str,
    dir: &Path,
    app_dir: &Path,
    req: &Request,
) -> Result<Option<PathBuf>, ParityError> {
    let mut plan =
        crate::plan::load(&app_dir.join("plan.yaml")).map_err(|e| step(app)(e.to_string()))?;
    let mut rerouted = false;
    for a in &mut plan.apps {
        rerouted |= crate::plan::logs::route(a, crate::plan::logs::Route::Files);
    }
    if !rerouted {
        return Ok(None);
    }
    let work = dir.join("file-logs");
    std::fs::create_dir_all(&work).map_err(testbed::io(&work))?;
    let plan_path = work.join("plan.yaml");
    crate::plan::save(&plan, &plan_path).map_err(testbed::io(&plan_path))?;
    let out = work.join("out");
    let args = [
        "build".as_ref(),
        "--force".as_ref(),
        plan_path.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ];
    run_liftkit(app, req, &args, "build of the file-logs plan")?;
    let built = out.join(app_dir.file_name().unwrap_or_default());
    // The trial's system call profile is the lift's; the build alone does not run a trial.
    let profile = app_dir.join("seccomp.json");
    if profile.exists() {
        std::fs::copy(&profile, built.join("seccomp.json")).map_err(testbed::io(&profile))?;
    }
    Ok(Some(built))
}

/// The server answers a request (a database replays its WAL before it does).
fn wait_ready(proto: Protocol, addr: SocketAddr, netns: Option<i32>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match load::run(proto, addr, 1, 1, netns, None) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("it did not answer within 60 s: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn one_run(
    proto: Protocol,
    addr: SocketAddr,
    root: i32,
    netns: Option<i32>,
    (server_cpu, load_cpus): (Option<usize>, Option<&[usize]>),
    req: &Request,
) -> Result<Side, String> {
    // Again before each run: a server may have started processes since (a database's backend
    // per connection inherits its parent's CPU, a restarted worker may not).
    if let Some(cpu) = server_cpu {
        affinity::pin_processes(&affinity::serving(root), cpu)?;
    }
    // The engine's monitor counts for the image: copying its log lines is work the original,
    // writing its own files, does itself.
    let cpu0 = usage::cpu_seconds_of(&affinity::serving(root));
    let sampler = usage::Sampler::start(root);
    let l = load::run(proto, addr, req.requests, req.connections, netns, load_cpus)?;
    let mem = sampler.peak();
    let cpu = usage::cpu_seconds_of(&affinity::serving(root)) - cpu0;
    Ok(Side {
        requests_per_second: l.per_second(),
        p50_ms: l.quantile_ms(0.50),
        p99_ms: l.quantile_ms(0.99),
        peak_rss_bytes: mem.rss,
        peak_pss_bytes: mem.pss,
        peak_pss_anon_bytes: mem.pss_anon,
        cpu_seconds_per_10k: cpu * 10_000.0 / l.requests.max(1) as f64,
    })
}

/// The median over the rounds of `a`'s figure as a share of `b`'s in the same round: a round
/// the whole machine was slow in counts against neither side.
fn paired_percent(a: &[Side], b: &[Side], figure: impl Fn(&Side) -> f64) -> f64 {
    let mut v: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, b)| figure(b) > 0.0)
        .map(|(a, b)| 100.0 * figure(a) / figure(b))
        .collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|x, y| x.total_cmp(y));
    v[v.len() / 2]
}

/// How far one side's runs spread around their median (half the range, as a percentage): the
/// noise of this machine, against which a few percent of difference means nothing.
fn spread_percent(runs: &[Side], figure: impl Fn(&Side) -> f64) -> f64 {
    let v: Vec<f64> = runs.iter().map(&figure).collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    let mid = figure(&median(runs));
    if mid > 0.0 && runs.len() > 1 {
        50.0 * (hi - lo) / mid
    } else {
        0.0
    }
}

/// Each figure's median over the runs (they are ranked separately).
fn median(runs: &[Side]) -> Side {
    let mid = |f: &dyn Fn(&Side) -> f64| -> f64 {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Side {
        requests_per_second: mid(&|s| s.requests_per_second),
        p50_ms: mid(&|s| s.p50_ms),
        p99_ms: mid(&|s| s.p99_ms),
        peak_rss_bytes: mid(&|s| s.peak_rss_bytes as f64) as u64,
        peak_pss_bytes: mid(&|s| s.peak_pss_bytes as f64) as u64,
        peak_pss_anon_bytes: mid(&|s| s.peak_pss_anon_bytes as f64) as u64,
        cpu_seconds_per_10k: mid(&|s| s.cpu_seconds_per_10k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(rps: f64) -> Side {
        Side {
            requests_per_second: rps,
            p50_ms: 0.0,
            p99_ms: 0.0,
            peak_rss_bytes: 0,
            peak_pss_bytes: 0,
            peak_pss_anon_bytes: 0,
            cpu_seconds_per_10k: 0.0,
        }
    }

    #[test]
    fn a_slow_round_counts_against_neither_side() {
        // The machine halves its speed in round 2 for both: each round's ratio is 90%, where
        // medians taken per side (60 / 100 against 50 / 100 …) would not say so.
        let lifted = [side(90.0), side(45.0), side(90.0)];
        let original = [side(100.0), side(50.0), side(100.0)];
        let rps = |s: &Side| s.requests_per_second;
        assert!((paired_percent(&lifted, &original, rps) - 90.0).abs() < 1e-9);
        // The original's own runs: 50 to 100 around a median of 100, ±25%.
        assert!((spread_percent(&original, rps) - 25.0).abs() < 1e-9);
        assert_eq!(
            spread_percent(&original[..1], rps),
            0.0,
            "one run has no spread"
        );
        assert_eq!(paired_percent(&lifted, &[], rps), 0.0);
    }
}
