//! `liftkit build`: the images and their companions from a plan.

use super::common;
use anyhow::Result;
use liftkit::pipeline::{BuildRequest, Session};
use liftkit::plan::Plan;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan written by `liftkit analyze` (and perhaps edited).
    pub plan: PathBuf,
    /// Output directory: one subdirectory per application.
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Replace the applications' directories in a non-empty output directory.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub opts: BuildArgs,
    /// Read file contents from this directory instead of the root the plan names.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Start each built image in a sandbox, add what it looks for and the source host has,
    /// rebuild, and compare its answers with the original's (as `lift` does by default).
    #[arg(long)]
    pub trial: bool,
    #[command(flatten)]
    pub trial_opts: super::trial_args::TrialArgs,
    /// Print the build summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Bake files the plan marks as secrets into the image (default: left out of every layer).
    #[arg(long)]
    pub include_secrets: bool,
    /// Run each image under its own system call profile (seccomp.json, made from the calls
    /// its trial run saw) in run.sh, compose.yaml and Kubernetes; any other call fails with
    /// EPERM.
    #[arg(long)]
    pub seccomp: bool,
}

impl BuildArgs {
    pub fn request(&self) -> Result<BuildRequest> {
        Ok(BuildRequest {
            include_secrets: self.include_secrets,
            seccomp: self.seccomp,
            source_date_epoch: common::source_date_epoch()?,
        })
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.priority.apply();
    let mut plan = liftkit::plan::load(&args.plan)?;
    if let (None, Some(disk)) = (&args.root, plan.source.root.strip_prefix("disk:")) {
        return super::from_disk::build(&args, &plan, std::path::Path::new(disk));
    }
    let host = liftkit::host::select::for_plan(&args.plan, &plan, args.root.as_deref())?;
    let request = args.opts.request()?;
    common::prepare_output(&args.output, args.force)?;
    let snapshot = plan_snapshot(&args.plan, &plan);
    let bars = common::Bars::default();
    let session = Session::new(&[], &bars);
    let options = liftkit::pipeline::build_options(&request, snapshot);
    let mut builds = session.build_with(&plan, &*host, &args.output, &options)?;
    let mut findings: Vec<_> = Vec::new();
    let mut trial_findings = Vec::new();
    if args.trial {
        let trials = session.trial(
            &mut plan,
            &*host,
            &args.output,
            &mut builds,
            &options,
            &args.trial_opts.options(),
        );
        super::trial_args::print(&trials);
        for t in trials {
            findings.extend(t.findings.iter().cloned());
            trial_findings.extend(t.findings.into_iter().map(|f| (t.app.clone(), f)));
        }
        // The plan given stays as the user wrote it; the trial's additions are in each app's
        // own plan.yaml and in plan.trial.yaml beside the output.
        liftkit::plan::save(&plan, &args.output.join("plan.trial.yaml"))?;
    }
    common::print_build_summary(&builds, args.json)?;
    findings.extend(builds.iter().flat_map(|b| b.findings.clone()));
    common::report_run(None, &builds, &trial_findings);
    Ok(common::exit_code(&findings))
}

/// The snapshot the plan names, if it is at hand: it holds the values of credential variables.
pub(super) fn plan_snapshot(plan_path: &Path, plan: &Plan) -> Option<liftkit::snapshot::Snapshot> {
    if plan.source.snapshot.is_empty() {
        return None;
    }
    let path = plan_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&plan.source.snapshot);
    liftkit::snapshot::load(&path).ok()
}
