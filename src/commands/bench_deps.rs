//! `liftkit bench deps`: liftkit's ELF resolver against ldd and lddtree (src/bench/deps.rs).

use anyhow::Result;
use liftkit::bench::deps::{self, Request};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compare the resolver with `ldd` on every ELF file of this machine, and time both (and lddtree).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directories to scan for ELF files (default: /usr/bin /usr/sbin /usr/lib /usr/libexec).
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// lddtree takes ~80 ms a file: time it on this many files spread over the set and
    /// extrapolate (0 skips it).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub lddtree_sample: usize,
    /// Compare at most this many files (spread over the set), for a quick run.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// x86-64 level for glibc-hwcaps; default this CPU's, which is what ldd uses.
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub cpu_level: Option<u8>,
    /// Timed passes of liftkit's resolver after an untimed warm-up (the median is reported);
    /// ldd takes ~12 s a pass and runs once.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub runs: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let req = Request {
        dirs: args.dirs.clone(),
        limit: args.limit,
        lddtree_sample: args.lddtree_sample,
        cpu_level: args.cpu_level,
        runs: args.runs,
    };
    let (report, files) = deps::measure(&req, &|msg| eprintln!("{msg}"))?;
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        deps::format_report(&report, files)
    };
    // A closed pipe (`| head`) is the reader's choice, not a failure.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(if report.comparison.unexplained == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
