//! `liftkit bench build PLAN`: build against tar | gzip -6 of the same files
//! (liftkit::bench::build).

use anyhow::Result;
use liftkit::bench::build::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Make a plan first, e.g.\n  liftkit lift --app mariadb --no-trial -o out\n  liftkit bench build out/plan.yaml"
)]
pub struct Args {
    /// The plan to build.
    pub plan: PathBuf,
    /// Read file contents from this directory instead of the root the plan names.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Runs of each; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[command(flatten)]
    pub run: super::common::BenchRun,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options {
        runs: args.runs,
        root: args.root.clone(),
    };
    let work = liftkit::bench::workdir("build")?;
    let measured = build::measure(&args.plan, &opts, &work, &args.run.binary()?);
    let f = measured?;
    if args.run.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} files, {:.1} MB read, layer {:.1} MB; median of {} runs on {} threads",
        f.apps.join(", "),
        f.files,
        f.file_bytes as f64 / 1e6,
        f.layer_bytes as f64 / 1e6,
        f.runs,
        f.threads
    );
    println!("{:<24} {:>9.3} s", "liftkit build", f.build.seconds);
    println!("{:<24} {:>9.3} s", "tar -c | gzip -6", f.tar_gzip.seconds);
    println!(
        "{:<24} {:>9.2}   (target: below 1)",
        "build / (tar | gzip)", f.time_ratio
    );
    println!(
        "reproducible: {} ({})",
        if f.reproducible {
            "yes, every run the same bytes"
        } else {
            "NO: runs differ"
        },
        f.manifest_digests.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
