//! `liftkit collect`: the read-only inventory of this host.

use super::common;
use anyhow::{Context, Result};
use liftkit::snapshot::{self, Snapshot};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the snapshot.
    #[arg(short, long, default_value = "snapshot.json", value_name = "FILE")]
    pub output: PathBuf,
    /// Print the snapshot to stdout instead of writing a file.
    #[arg(long)]
    pub json: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let snap = take(&analyzers);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&snap)?);
    } else {
        snapshot::save(&snap, &args.output)
            .with_context(|| format!("{}: cannot write", args.output.display()))?;
        eprintln!(
            "collected {} processes, {} listening sockets, {} packages → {}",
            snap.processes.len(),
            snap.sockets.len(),
            snap.packages.len(),
            args.output.display()
        );
    }
    common::report_findings(&snap.findings);
    Ok(ExitCode::SUCCESS)
}

/// Collects the inventory, then asks the applications the analyzers' live questions.
pub fn take(analyzers: &[liftkit::analyze::Analyzer]) -> Snapshot {
    let pb = common::bar(0, "collecting processes");
    let mut snap = snapshot::collect::collect(&Default::default(), &|done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    });
    pb.finish_and_clear();
    snap.facts = liftkit::analyze::facts::gather(&snap, analyzers);
    snap
}
