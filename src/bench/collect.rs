//! `liftkit bench collect`: the inventory against the tools a consultant would use for it —
//! `ps -eo …`, `ss -tulpn` and `lsof -n`, one after another — on this host with extra idle
//! processes and a few redis servers (whose live facts collect asks): wall time and peak memory,
//! median of several runs, and the ratios.

use super::measure::{self, Measured};
use super::testbed::{self, Running};
use super::{io, ratio, BenchError};
use serde::Serialize;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Options {
    /// Idle processes started for the run (children of the benchmark, killed after).
    pub idle: usize,
    /// redis servers started (the testbed's), each asked its facts by collect.
    pub redis: usize,
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub processes: usize,
    pub idle_started: usize,
    pub redis_started: usize,
    pub runs: usize,
    pub collect: Measured,
    /// `ps`, `ss` and `lsof` in one shell: time of the three, the largest one's memory.
    pub tools: Measured,
    pub time_ratio: f64,
    pub memory_ratio: f64,
}

/// The three tools' command line, as a consultant would type it.
pub const TOOLS: &str =
    "ps -eo pid,ppid,uid,gid,user,stat,lstart,rss,vsz,comm,args; ss -tulpn; lsof -n";

pub fn measure(opts: &Options, work: &Path, liftkit: &Path) -> Result<Figures, BenchError> {
    super::require(&["ps", "ss", "lsof"], "procps iproute2 lsof")?;
    if opts.redis > 0 {
        super::require(&["redis-server"], "redis-server")?;
    }
    let idle = Idle::start(opts.idle)?;
    let mut servers: Vec<Running> = Vec::new();
    for i in 0..opts.redis {
        let dir = work.join(format!("redis{i}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        servers.push(testbed::redis::start(&dir, testbed::free_port())?);
    }
    let snapshot = work.join("snapshot.json");
    let (_, collect) = measure::repeat(opts.runs, &[0], || {
        let mut c = Command::new(liftkit);
        // Its default priority (nice 10, idle I/O) would measure the scheduler, not the work.
        c.args(["collect", "--priority", "normal", "-o"])
            .arg(&snapshot);
        c
    })?;
    let (_, tools) = measure::repeat(opts.runs, &[0], || {
        let mut c = Command::new("sh");
        c.args(["-c", TOOLS]);
        c
    })?;
    let processes = std::fs::read_dir("/proc")
        .map_err(io(Path::new("/proc")))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count();
    drop(servers);
    drop(idle);
    Ok(Figures {
        processes,
        idle_started: opts.idle,
        redis_started: opts.redis,
        runs: opts.runs,
        time_ratio: ratio(collect.seconds, tools.seconds),
        memory_ratio: ratio(collect.max_rss_kib as f64, tools.max_rss_kib as f64),
        collect,
        tools,
    })
}

/// Idle processes (`sleep`), killed and reaped when dropped.
struct Idle(Vec<Child>);

impl Idle {
    fn start(n: usize) -> Result<Idle, BenchError> {
        let mut children = Vec::with_capacity(n);
        for _ in 0..n {
            let child = Command::new("sleep")
                .arg("3600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| BenchError::Failed(format!("cannot start sleep: {e}")))?;
            children.push(child);
        }
        Ok(Idle(children))
    }
}

impl Drop for Idle {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
