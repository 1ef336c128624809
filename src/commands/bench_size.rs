//! `liftkit bench size`: recall and size of the lifted image against what the application
//! touches under strace (liftkit::bench::size).

use super::common::human_bytes;
use anyhow::Result;
use liftkit::bench::size::{self, Figures};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which applications to measure.
    #[arg(long, value_delimiter = ',', default_value = "nginx,redis")]
    pub apps: Vec<String>,
    /// Keep the work directory (traces, images) and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let work = liftkit::bench::workdir("size")?;
    let measured = size::measure(&args.apps, &work, &std::env::current_exe()?);
    if args.keep {
        eprintln!("work directory kept: {}", work.keep().display());
    }
    let all = measured?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print(&all);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(all: &[Figures]) {
    println!(
        "{:<8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>7}",
        "app", "traced", "traced", "recall", "image", "image", "ratio"
    );
    println!(
        "{:<8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>7}",
        "", "files", "bytes", "", "files", "bytes", ""
    );
    for f in all {
        println!(
            "{:<8} {:>8} {:>10} {:>8.1}% {:>8} {:>10} {:>7.2}",
            f.app,
            f.traced_files,
            human_bytes(f.traced_bytes),
            f.recall_percent,
            f.image_files,
            human_bytes(f.image_bytes),
            f.ratio
        );
        for (path, why) in &f.kept_out {
            println!("    kept out on purpose: {path} ({why})");
        }
        for path in &f.missing {
            println!("    MISSING from the image: {path}");
        }
    }
    println!("recall target 100%; ratio = image bytes / traced bytes, target <= 1.3");
}
