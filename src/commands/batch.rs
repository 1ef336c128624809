//! `liftkit batch`: the fleet report from a directory of snapshots.

use super::common;
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "File contents for each host come from its bundle (collect --bundle) \
when present, else from / if the snapshot is of this machine, else the host is analyzed without \
files (no configuration comparison).\nExit code 1 when some snapshots could not be read (the \
report lists them and covers the rest).\nExample:\n  liftkit batch snapshots/ -o report/"
)]
pub struct Args {
    /// Directory holding the snapshots (`*.json`, as `liftkit collect` writes them).
    pub dir: PathBuf,
    /// Where to write fleet.html, fleet.csv and fleet.json.
    #[arg(short, long, default_value = "report", value_name = "DIR")]
    pub output: PathBuf,
    /// Print fleet.json on stdout too.
    #[arg(long)]
    pub json: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !args.dir.is_dir() {
        bail!("{}: not a directory of snapshots", args.dir.display());
    }
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let files = liftkit::fleet::snapshot_files(&args.dir)?;
    if files.is_empty() {
        bail!("{}: no snapshots (*.json) in it", args.dir.display());
    }
    let started = Instant::now();
    let pb = common::bar(files.len() as u64, "analyzing snapshots");
    let report = liftkit::fleet::analyze_dir(&args.dir, &analyzers, &|| pb.inc(1))?;
    pb.finish_and_clear();
    liftkit::fleet::write(&report, &args.output)?;
    let s = &report.summary;
    eprintln!(
        "{} snapshots in {:.1} s: {} hosts, {} applications ({} good, {} partial, {} poor), \
         {} differences, {} unreadable, effort {} person-days → {}/fleet.html",
        s.snapshots,
        started.elapsed().as_secs_f64(),
        s.hosts,
        s.apps,
        s.good,
        s.partial,
        s.poor,
        s.differences,
        s.unreadable,
        s.effort_days,
        args.output.display()
    );
    for u in &report.unreadable {
        eprintln!("warning: {}: unreadable: {}", u.file, u.reason);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    // The report is whole, but a fleet with snapshots missing from it is not fully assessed.
    Ok(if report.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
