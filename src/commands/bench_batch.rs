//! `liftkit bench batch`: the fleet report over many snapshots (liftkit::bench::batch).

use anyhow::Result;
use liftkit::bench::batch::{self, Options};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshots in the fleet.
    #[arg(long, default_value_t = 10_000)]
    pub snapshots: usize,
    /// Runs of the batch; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[command(flatten)]
    pub run: super::common::BenchRun,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options {
        snapshots: args.snapshots,
        runs: args.runs,
    };
    let work = liftkit::bench::workdir("batch")?;
    let measured = batch::measure(&opts, &work, &args.run.binary()?);
    let f = measured?;
    if args.run.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} snapshots of this host under other names ({:.0} KB each: {} processes, {} packages); median of {} runs",
        f.snapshots,
        f.snapshot_bytes as f64 / 1e3,
        f.processes_each,
        f.packages_each,
        f.runs
    );
    println!(
        "{:<26} {:>8.2} s  ({:.2} ms a snapshot, peak RSS {:.1} MB)",
        "liftkit batch",
        f.batch.seconds,
        f.ms_per_snapshot,
        f.batch.max_rss_kib as f64 / 1024.0
    );
    println!("{:<26} {:>8.2} s", "cat of the same files", f.read.seconds);
    println!("{:<26} {:>8.1}", "batch / cat", f.ratio_to_read);
    Ok(ExitCode::SUCCESS)
}
