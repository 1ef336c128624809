//! `liftkit build`: the images and their companions from a plan.

use super::common;
use anyhow::{Context, Result};
use liftkit::build::{self, AppBuild};
use liftkit::host::Host;
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
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.priority.apply();
    let plan = liftkit::plan::load(&args.plan)?;
    let root = match &args.root {
        Some(r) => r.clone(),
        None => {
            let r = PathBuf::from(&plan.source.root);
            if r.is_absolute() {
                r
            } else {
                args.plan.parent().unwrap_or(Path::new(".")).join(r)
            }
        }
    };
    common::prepare_output(&args.output, args.force)?;
    let snapshot = plan_snapshot(&args.plan, &plan);
    let builds = build_all(&plan, &Host::at(&root), &args.output, &args.opts, snapshot)?;
    common::print_build_summary(&builds, args.json);
    let findings: Vec<_> = builds.iter().flat_map(|b| b.findings.clone()).collect();
    common::report_findings(&findings);
    Ok(common::exit_code(&findings))
}

/// The snapshot the plan names, if it is at hand: it holds the values of credential variables.
fn plan_snapshot(plan_path: &Path, plan: &Plan) -> Option<liftkit::snapshot::Snapshot> {
    if plan.source.snapshot.is_empty() {
        return None;
    }
    let path = plan_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&plan.source.snapshot);
    liftkit::snapshot::load(&path).ok()
}

pub fn build_all(
    plan: &Plan,
    host: &Host,
    out: &Path,
    opts: &BuildArgs,
    snapshot: Option<liftkit::snapshot::Snapshot>,
) -> Result<Vec<AppBuild>> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        Err(_) => None,
    };
    let options = build::Options {
        source_date_epoch,
        include_secrets: opts.include_secrets,
        snapshot,
    };
    let pb = common::bar(plan.apps.len() as u64, "building images");
    let mut builds = Vec::new();
    for app in &plan.apps {
        pb.set_message(format!("building {}", app.name));
        builds.push(build::build_app(plan, app, host, out, &options)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(builds)
}
