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
    /// Also copy every file the applications need into `<output>.bundle/` beside the snapshot
    /// (links, owners, modes and data kept), so `analyze` and `build` can run on another machine.
    #[arg(long)]
    pub bundle: bool,
    #[command(flatten)]
    pub select: super::analyze::SelectArgs,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.priority.apply();
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let mut snap = take(&analyzers);
    if args.bundle {
        snap.bundle = Some(bundle(&snap, &analyzers, &args)?);
    }
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

/// Plans the selected applications against the live host and copies what the plan reads.
fn bundle(
    snap: &Snapshot,
    analyzers: &[liftkit::analyze::Analyzer],
    args: &Args,
) -> Result<String> {
    use liftkit::analyze;
    let selected = analyze::select(snap, analyzers, &args.select.selection())?;
    let host = liftkit::host::Host::live();
    let plan = analyze::plan(
        snap,
        &host,
        analyzers,
        &selected,
        &analyze::Options::default(),
    );
    let name = format!(
        "{}.bundle",
        args.output
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
    );
    let dir = args.output.with_file_name(&name);
    let partial = args.output.with_file_name(format!(".{name}.partial"));
    let pb = common::spinner("bundling the files the applications need");
    let _ = std::fs::remove_dir_all(&partial);
    let findings = liftkit::build::bundle::write(&plan, &host, &partial)
        .with_context(|| format!("{}: cannot write the bundle", partial.display()))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("{}: cannot replace", dir.display()))?;
    }
    std::fs::rename(&partial, &dir).with_context(|| format!("{}: cannot write", dir.display()))?;
    pb.finish_and_clear();
    common::report_findings(&findings);
    let apps: Vec<&str> = plan.apps.iter().map(|a| a.name.as_str()).collect();
    eprintln!(
        "bundled the files of {} → {}",
        apps.join(", "),
        dir.display()
    );
    Ok(name)
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
