//! `liftkit collect`: the read-only inventory of this host.

use super::common;
use anyhow::{bail, Context, Result};
use liftkit::pipeline::Session;
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
    /// Also copy every file the applications need into `<output>.bundle/` beside the snapshot
    /// (links, owners, modes and data kept), so `analyze` and `build` can run on another machine.
    #[arg(long)]
    pub bundle: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
    /// Collect from a powered-off VM's disk image (raw, qcow2, vmdk) instead of this host,
    /// read-only: applications are what the disk says would run at boot.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub disk: Option<PathBuf>,
    /// With --disk: read a disk that looks in use by a running VM (locked, open for writing,
    /// changing).
    #[arg(long, requires = "disk")]
    pub force: bool,
    #[command(flatten, next_help_heading = "With --bundle")]
    pub select: super::analyze::SelectArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(file) = &args.disk {
        return super::from_disk::collect(&args, file);
    }
    if !args.bundle && !args.select.is_empty() {
        bail!(
            "--app and --pid choose the applications --bundle copies files for; without \
             --bundle the snapshot is always of the whole host (add --bundle, or leave them out)"
        );
    }
    args.priority.apply();
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let mut snap = session.collect();
    if args.bundle {
        let bundled = session.bundle(&snap, &args.select.selection(), &args.output)?;
        common::report_findings(&bundled.findings);
        eprintln!(
            "bundled the files of {} → {}",
            bundled.apps.join(", "),
            bundled.dir.display()
        );
        snap.bundle = Some(bundled.name);
        if !args.select.is_empty() {
            snap.bundle_pids = bundled.pids.clone();
        }
    }
    let said = format!(
        "collected {} processes, {} listening sockets, {} packages",
        snap.processes.len(),
        snap.sockets.len(),
        snap.packages.len(),
    );
    deliver(&snap, &args, &said)
}

/// The snapshot as JSON on stdout (`--json`), or saved to `-o` with `said` and where it went;
/// then its findings.
pub(super) fn deliver(snap: &Snapshot, args: &Args, said: &str) -> Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(snap)?);
    } else {
        snapshot::save(snap, &args.output)
            .with_context(|| format!("{}: cannot write", args.output.display()))?;
        eprintln!("{said} → {}", args.output.display());
    }
    common::report_findings(&snap.findings);
    Ok(ExitCode::SUCCESS)
}
