//! `liftkit bench batch`: the fleet report over many snapshots. The fleet is this host's own
//! snapshot (collected first) written again under other host names, so every copy is another
//! machine analyzed from its inventory alone, as most of a real fleet is; `liftkit batch` over
//! it is timed, with reading the same files (`cat`) as the floor in the same run.

use super::measure::{self, Measured};
use super::{io, ratio, BenchError};
use serde::Serialize;
use std::path::Path;
use std::process::Command;

pub struct Options {
    pub snapshots: usize,
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub snapshots: usize,
    pub snapshot_bytes: u64,
    pub processes_each: usize,
    pub packages_each: usize,
    pub runs: usize,
    pub batch: Measured,
    /// `cat` of every snapshot: reading the files, nothing else.
    pub read: Measured,
    pub ms_per_snapshot: f64,
    pub ratio_to_read: f64,
}

pub fn measure(opts: &Options, work: &Path, liftkit: &Path) -> Result<Figures, BenchError> {
    let seed = work.join("seed.json");
    measure::run(
        Command::new(liftkit)
            .args(["collect", "--priority", "normal", "-o"])
            .arg(&seed),
        &[0],
    )?;
    let fleet = work.join("fleet");
    let (bytes, processes, packages) = write_fleet(&seed, &fleet, opts.snapshots)?;
    let report = work.join("report");
    // Exit 1 is a fleet with unreadable snapshots: there are none here, but it still reports.
    let (_, batch) = measure::repeat(opts.runs, &[0, 1], || {
        let mut c = Command::new(liftkit);
        c.arg("batch").arg(&fleet).arg("-o").arg(&report);
        c
    })?;
    let (_, read) = measure::repeat(opts.runs, &[0], || {
        let mut c = Command::new("sh");
        c.args(["-c", "cat \"$1\"/*.json > /dev/null", "sh"])
            .arg(&fleet);
        c
    })?;
    Ok(Figures {
        snapshots: opts.snapshots,
        snapshot_bytes: bytes,
        processes_each: processes,
        packages_each: packages,
        runs: opts.runs,
        ms_per_snapshot: batch.seconds * 1000.0 / opts.snapshots.max(1) as f64,
        ratio_to_read: ratio(batch.seconds, read.seconds),
        batch,
        read,
    })
}

/// `n` copies of the seed under host names `host00000`…; returns the bytes of one and its
/// process and package counts.
fn write_fleet(seed: &Path, dir: &Path, n: usize) -> Result<(u64, usize, usize), BenchError> {
    let text = std::fs::read_to_string(seed).map_err(io(seed))?;
    let mut snap: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BenchError::Failed(format!("{}: {e}", seed.display())))?;
    const MARK: &str = "liftkit-bench-host-name";
    snap["host"]["hostname"] = MARK.into();
    let count = |key: &str| snap[key].as_array().map_or(0, Vec::len);
    let (processes, packages) = (count("processes"), count("packages"));
    let template =
        serde_json::to_string(&snap).map_err(|e| BenchError::Failed(format!("snapshot: {e}")))?;
    let (before, after) = template
        .split_once(MARK)
        .ok_or_else(|| BenchError::Failed("snapshot: no host name".to_string()))?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for i in 0..n {
        let path = dir.join(format!("host{i:05}.json"));
        std::fs::write(&path, format!("{before}host{i:05}{after}")).map_err(io(&path))?;
    }
    Ok((template.len() as u64, processes, packages))
}
