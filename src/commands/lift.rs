//! `liftkit lift`: collect, analyze and build in one step on the live host.

use super::analyze::SelectArgs;
use super::build::BuildArgs;
use super::common;
use anyhow::{bail, Result};
use liftkit::analyze::Candidate;
use liftkit::pipeline::{self, Session};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --app or --pid: at a terminal, starts the wizard; otherwise (or with \
--list, or --json), lists the applications found and lifts nothing.\n\
Examples:\n  liftkit lift --list\n  liftkit lift --app nginx -o out/\n  liftkit lift --pid 1234 -o out/\n  liftkit lift --answers out/answers.yaml -o out2/"
)]
pub struct Args {
    #[command(flatten)]
    pub select: SelectArgs,
    /// List the applications found and lift nothing (also at a terminal, where no selection
    /// starts the wizard).
    #[arg(long, conflicts_with_all = ["apps", "pids", "answers"])]
    pub list: bool,
    /// Output directory: plan.yaml, snapshot.json and one subdirectory per application
    /// [default: out].
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Replace the applications' directories in a non-empty output directory; with --disk,
    /// also read a disk that looks in use by a running VM.
    #[arg(long)]
    pub force: bool,
    /// Lift from a powered-off VM's disk image (raw, qcow2, vmdk) instead of this host,
    /// read-only: applications are what the disk says would run at boot.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["answers", "host_image"])]
    pub disk: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Print the list or the build summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
    /// Replay the answers a wizard saved (answers.yaml), without a terminal; -o, if given,
    /// replaces the answered output directory.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["apps", "pids"])]
    pub answers: Option<PathBuf>,
    /// Skip the trial run: the built image is not started, nothing it misses is added.
    #[arg(long)]
    pub no_trial: bool,
    #[command(flatten)]
    pub trial: super::trial_args::TrialArgs,
    /// Lift with no analyzer: only what the host shows (processes, files, packages) decides
    /// the plan, as for an application liftkit was never taught.
    #[arg(long)]
    pub generic: bool,
    /// Also build each app's bootable host image (see `liftkit host-image`).
    #[arg(long)]
    pub host_image: bool,
    /// Never take paths matching this gitignore pattern (repeat for several; after the
    /// `.liftignore` in the output directory, beside the plan).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub logs: super::logs_arg::LogsArgs,
    #[command(flatten)]
    pub priority: super::priority::PriorityArgs,
    #[command(flatten, next_help_heading = "With --host-image")]
    pub host_image_opts: super::host_image::HostImageArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let orphans = args.host_image_opts.given();
    if !args.host_image && !orphans.is_empty() {
        bail!(
            "{} {} only with --host-image (they choose how the host image is built)",
            orphans.join(", "),
            if orphans.len() == 1 {
                "applies"
            } else {
                "apply"
            }
        );
    }
    if let Some(file) = &args.disk {
        return super::from_disk::lift(&args, file);
    }
    args.priority.apply();
    if let Some(file) = &args.answers {
        return super::wizard::replay(file, &wizard_run(&args));
    }
    if args.select.is_empty() && !args.list && !args.json && super::wizard::at_terminal() {
        return super::wizard::run(super::wizard::Args {
            output: args.output.clone().unwrap_or_else(|| PathBuf::from("out")),
            force: args.force,
            answers: None,
            analyzers: args.analyzers.clone(),
        });
    }
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from("out"));
    let analyzers = if args.generic {
        Vec::new()
    } else {
        common::analyzers(args.analyzers.as_deref())?
    };
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    if args.select.is_empty() {
        let snap = session.collect();
        print_candidates(&session.candidates(&snap), args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let request = args.build.request()?;
    let mut options = pipeline::live_options();
    options.exclude = common::excludes(&output.join("plan.yaml"), &args.exclude)?;
    let snap = session.collect();
    let chosen = session.select(&snap, &args.select.selection())?;
    common::prepare_output(&output, args.force)?;
    let host = liftkit::host::live();
    let mut plan = session.analyze(&snap, &host, &chosen, &options);
    args.logs.apply(&mut plan);
    for app in &mut plan.apps {
        app.hardening.seccomp |= request.seccomp;
    }
    pipeline::save_inputs(&output, &snap, &plan)?;
    let options = pipeline::build_options(&request, Some(snap));
    let mut builds = session.build_with(&plan, &host, &output, &options)?;
    let trial_findings = super::trial_args::run_and_save(
        &session,
        &mut plan,
        &host,
        &output,
        &mut builds,
        &options,
        (!args.no_trial).then(|| args.trial.options()),
    )?;
    common::print_build_summary(&builds, args.json)?;
    if args.host_image {
        for h in session.host_images(&builds, &args.host_image_opts.options())? {
            super::host_image::print_summary(&h);
            for w in &h.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    let mut findings = pipeline::findings(&plan, &builds);
    findings.extend(trial_findings.iter().map(|(_, f)| f.clone()));
    common::report_run(Some(&plan), &builds, &trial_findings);
    Ok(common::exit_code(&findings))
}

fn wizard_run(args: &Args) -> super::wizard::Run<'_> {
    super::wizard::Run {
        output: args.output.clone().unwrap_or_else(|| PathBuf::from("out")),
        output_fixed: args.output.is_some(),
        force: args.force,
        analyzers: args.analyzers.as_deref(),
        json: args.json,
        fit_up_front: false,
    }
}

pub(super) fn print_candidates(found: &[Candidate], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(());
    }
    if found.is_empty() {
        println!("no applications found: nothing listens on a port or runs as a service unit");
        return Ok(());
    }
    // Whole values, columns as wide as their longest: a cut port or pid is one a person
    // cannot type back.
    let rows: Vec<[String; 6]> = found
        .iter()
        .map(|c| {
            let pids: Vec<String> = c.pids.iter().map(i32::to_string).collect();
            let started_by = c
                .unit
                .clone()
                .filter(|u| u.ends_with(".service"))
                .or_else(|| c.parent.as_ref().map(|p| format!("parent {p}")))
                .unwrap_or_default();
            [
                c.name.clone(),
                pids.join(","),
                c.user.clone(),
                if c.listen.is_empty() {
                    "-".to_string()
                } else {
                    c.listen.join(",")
                },
                c.analyzer.clone().unwrap_or_else(|| "generic".to_string()),
                started_by,
            ]
        })
        .collect();
    let header = ["APP", "PIDS", "USER", "LISTENS", "ANALYZER", "STARTED BY"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == row.len() - 1 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("\nlift one with: liftkit lift --app NAME -o out/");
    Ok(())
}
