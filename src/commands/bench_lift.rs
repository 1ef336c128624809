//! `liftkit bench lift`: wall time and peak memory of lifting nginx and redis
//! (liftkit::bench::lift).

use anyhow::Result;
use liftkit::bench::lift::{self, Options};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs of each lift; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[command(flatten)]
    pub run: super::common::BenchRun,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options { runs: args.runs };
    let work = liftkit::bench::workdir("lift")?;
    let measured = lift::measure(&opts, &work, &args.run.binary()?);
    let rows = measured?;
    if args.run.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("lift --no-trial, median of {} runs", args.runs);
    println!("{:<8} {:>9} {:>12}", "app", "seconds", "peak RSS");
    for r in &rows {
        println!(
            "{:<8} {:>9.3} {:>9.1} MB",
            r.app,
            r.lift.seconds,
            r.lift.max_rss_kib as f64 / 1024.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
