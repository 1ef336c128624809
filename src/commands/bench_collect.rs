//! `liftkit bench collect`: collect against `ps`, `ss` and `lsof` (liftkit::bench::collect).

use anyhow::Result;
use liftkit::bench::collect::{self, Options};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Idle processes to start for the run (killed after).
    #[arg(long, default_value_t = 500)]
    pub idle: usize,
    /// redis servers to start, whose facts collect asks.
    #[arg(long, default_value_t = 2)]
    pub redis: usize,
    /// Runs of each; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[command(flatten)]
    pub run: super::common::BenchRun,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options {
        idle: args.idle,
        redis: args.redis,
        runs: args.runs,
    };
    let work = liftkit::bench::workdir("collect")?;
    let measured = collect::measure(&opts, &work, &args.run.binary()?);
    let f = measured?;
    if args.run.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} processes ({} idle started), {} redis servers; median of {} runs",
        f.processes, f.idle_started, f.redis_started, f.runs
    );
    println!("{:<22} {:>9} {:>12}", "", "seconds", "peak RSS");
    for (name, m) in [
        ("liftkit collect", &f.collect),
        ("ps + ss + lsof", &f.tools),
    ] {
        println!(
            "{name:<22} {:>9.3} {:>9.1} MB",
            m.seconds,
            m.max_rss_kib as f64 / 1024.0
        );
    }
    println!(
        "{:<22} {:>9.2} {:>12.2}   (target: within 2x)",
        "collect / tools", f.time_ratio, f.memory_ratio
    );
    println!("tools: sh -c '{}'", collect::TOOLS);
    Ok(ExitCode::SUCCESS)
}
