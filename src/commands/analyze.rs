//! `liftkit analyze`: from a snapshot to an editable plan.

use super::common;
use anyhow::{Context, Result};
use liftkit::analyze::Selection;
use liftkit::host::select::Contents;
use liftkit::pipeline::Session;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The snapshot written by `liftkit collect`.
    pub snapshot: PathBuf,
    /// Where to write the plan.
    #[arg(short, long, default_value = "plan.yaml", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Read file contents from this directory instead of the snapshot's bundle or the live `/`
    /// (a mounted disk of the source server, for example).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// x86-64 level (1-4) of the CPU the image will run on; glibc-hwcaps libraries above it are
    /// left out. Default: the source host's.
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub cpu_level: Option<u8>,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    /// Never take paths matching this gitignore pattern (repeat for several; after the
    /// `.liftignore` beside the plan, so `!PATTERN` takes a path back).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub logs: super::logs_arg::LogsArgs,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Application to lift, by the name `liftkit lift` lists (repeat for several).
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,
    /// Lift the application a process belongs to (repeat for several).
    #[arg(long = "pid", value_name = "PID", conflicts_with = "apps")]
    pub pids: Vec<i32>,
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        if !self.pids.is_empty() {
            Selection::Pids(self.pids.clone())
        } else if !self.apps.is_empty() {
            Selection::Names(self.apps.clone())
        } else {
            Selection::All
        }
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty() && self.pids.is_empty()
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.priority.apply();
    let snap = liftkit::snapshot::load(&args.snapshot)?;
    if let (None, None, Some(disk)) = (&args.root, &snap.bundle, &snap.disk) {
        return super::from_disk::analyze(&args, &snap, std::path::Path::new(disk));
    }
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let exclude = common::excludes(&args.output, &args.exclude)?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let (mut plan, contents) = session.analyze_saved(
        &args.snapshot,
        &snap,
        args.root.as_deref(),
        &args.select.selection(),
        args.cpu_level,
        exclude,
    )?;
    args.logs.apply(&mut plan);
    if args.select.is_empty() && contents == Contents::Bundle && !snap.bundle_pids.is_empty() {
        let names: Vec<&str> = plan.apps.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "{}: its bundle holds the files of {}: planning those (--app chooses)",
            args.snapshot.display(),
            names.join(", ")
        );
    }
    if contents == Contents::None {
        eprintln!(
            "warning: {}: no bundle beside it and not taken on this machine: analyzed from the \
             inventory alone (give the source's files with --root DIR)",
            args.snapshot.display()
        );
    }
    liftkit::plan::save(&plan, &args.output)
        .with_context(|| format!("{}: cannot write", args.output.display()))?;
    let findings: Vec<_> = plan.apps.iter().flat_map(|a| a.findings.clone()).collect();
    common::report_run(Some(&plan), &[], &[]);
    for a in &plan.apps {
        eprintln!(
            "{}: {} files, {} volumes, fit {:?} → {}",
            a.name,
            a.files.len(),
            a.volumes.len(),
            a.fit,
            args.output.display()
        );
    }
    Ok(common::exit_code(&findings))
}
