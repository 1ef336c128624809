//! `collect --disk FILE` and `lift --disk FILE`: a powered-off VM's disk as the source host.
//!
//! The disk is opened first, before any thread starts (its mounts live in a mount namespace of
//! liftkit's own, which the kernel grants only to a single-threaded process), and stays open
//! until the run has read everything; then it is checked not to have changed meanwhile.

use super::common;
use anyhow::{Context, Result};
use liftkit::host::disk::{Disk, Options};
use liftkit::host::Host;
use liftkit::pipeline::{self, Session};
use liftkit::snapshot::{self, Snapshot};
use std::path::Path;
use std::process::ExitCode;

fn open(file: &Path, force: bool) -> Result<Disk> {
    let disk = Disk::open(file, &Options { force })?;
    for n in &disk.notes {
        eprintln!("note: {n}");
    }
    eprintln!("reading {}", disk.host().describe());
    Ok(disk)
}

fn take(disk: &Disk, _file: &Path, analyzers: &[liftkit::analyze::Analyzer]) -> Snapshot {
    let file = disk.host().file();
    let mut snap = snapshot::collect::offline::collect(
        disk.host(),
        disk.host().local_root(),
        analyzers,
        &file.display().to_string(),
    );
    for n in &disk.notes {
        snap.findings.push(liftkit::findings::Finding::info(
            file.display().to_string(),
            n.clone(),
        ));
    }
    snap
}

pub fn collect(args: &super::collect::Args, file: &Path) -> Result<ExitCode> {
    let disk = open(file, args.force)?;
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let snap = take(&disk, file, &analyzers);
    disk.check_unchanged()?;
    let said = format!(
        "collected {} declared processes, {} packages from {}",
        snap.processes.len(),
        snap.packages.len(),
        file.display(),
    );
    super::collect::deliver(&snap, args, &said)
}

pub fn lift(args: &super::lift::Args, file: &Path) -> Result<ExitCode> {
    let disk = open(file, args.force)?;
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let snap = take(&disk, file, &analyzers);
    if args.select.is_empty() {
        super::lift::print_candidates(&session.candidates(&snap), args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let output = args.output.clone().unwrap_or_else(|| "out".into());
    let request = args.build.request()?;
    let chosen = session.select(&snap, &args.select.selection())?;
    common::prepare_output(&output, args.force)?;
    let host = disk.host();
    let opts = liftkit::analyze::Options {
        cpu_level: None,
        source_root: host.root_label(),
        snapshot_path: "snapshot.json".to_string(),
        exclude: common::excludes(&output.join("plan.yaml"), &args.exclude)?,
    };
    let mut plan = session.analyze(&snap, host, &chosen, &opts);
    args.logs.apply(&mut plan);
    for app in &mut plan.apps {
        app.hardening.seccomp |= request.seccomp;
    }
    pipeline::save_inputs(&output, &snap, &plan)?;
    let options = pipeline::build_options(&request, Some(snap));
    let mut builds = session.build_with(&plan, host, &output, &options)?;
    // The trial supplies what the disk's static evidence misses (a declared process was never
    // seen running): the files the app looks for, and the capabilities it is refused.
    let trial_findings = super::trial_args::run_and_save(
        &session,
        &mut plan,
        host,
        &output,
        &mut builds,
        &options,
        (!args.no_trial).then(|| args.trial.options()),
    )?;
    if let Err(e) = disk.check_unchanged() {
        // What was read from a changing disk is no consistent state: leave none of it.
        for b in &builds {
            let _ = std::fs::remove_dir_all(&b.dir);
        }
        let _ = std::fs::remove_file(output.join("snapshot.json"));
        let _ = std::fs::remove_file(output.join("plan.yaml"));
        return Err(e.into());
    }
    common::print_build_summary(&builds, args.json)?;
    let mut findings = pipeline::findings(&plan, &builds);
    findings.extend(trial_findings.iter().map(|(_, f)| f.clone()));
    common::report_run(Some(&plan), &builds, &trial_findings);
    Ok(common::exit_code(&findings))
}

/// `analyze` of a snapshot `collect --disk` wrote, without a bundle or --root: the disk is
/// opened again (read-only, as at collect) for its files.
pub fn analyze(args: &super::analyze::Args, snap: &Snapshot, file: &Path) -> Result<ExitCode> {
    let disk = open(file, false)?;
    let analyzers = common::analyzers(args.analyzers.as_deref())?;
    let bars = common::Bars::default();
    let session = Session::new(&analyzers, &bars);
    let chosen = session.select(snap, &args.select.selection())?;
    let opts = liftkit::analyze::Options {
        cpu_level: args.cpu_level,
        source_root: disk.host().root_label(),
        snapshot_path: args.snapshot.to_string_lossy().into_owned(),
        exclude: common::excludes(&args.output, &args.exclude)?,
    };
    let mut plan = session.analyze(snap, disk.host(), &chosen, &opts);
    args.logs.apply(&mut plan);
    disk.check_unchanged()?;
    liftkit::plan::save(&plan, &args.output)
        .with_context(|| format!("{}: cannot write", args.output.display()))?;
    let findings: Vec<_> = plan.apps.iter().flat_map(|a| a.findings.clone()).collect();
    common::report_findings(&findings);
    Ok(common::exit_code(&findings))
}

/// `build` of a plan made from a disk (`source.root` is `disk:FILE`): the disk is opened again.
pub fn build(
    args: &super::build::Args,
    plan: &liftkit::plan::Plan,
    file: &Path,
) -> Result<ExitCode> {
    let disk = open(file, false)?;
    let request = args.opts.request()?;
    common::prepare_output(&args.output, args.force)?;
    let snapshot = super::build::plan_snapshot(&args.plan, plan);
    let bars = common::Bars::default();
    let session = Session::new(&[], &bars);
    let builds = session.build(plan, disk.host(), &args.output, &request, snapshot)?;
    if let Err(e) = disk.check_unchanged() {
        for b in &builds {
            let _ = std::fs::remove_dir_all(&b.dir);
        }
        return Err(e.into());
    }
    common::print_build_summary(&builds, args.json)?;
    let findings: Vec<_> = builds.iter().flat_map(|b| b.findings.clone()).collect();
    common::report_findings(&findings);
    Ok(common::exit_code(&findings))
}
