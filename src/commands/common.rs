//! Pieces several verbs share: analyzers, output directories, progress, exit codes.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use liftkit::analyze::Analyzer;
use liftkit::build::AppBuild;
use liftkit::findings::{Finding, Level};
use std::path::Path;
use std::process::ExitCode;

pub fn analyzers(extra: Option<&Path>) -> Result<Vec<Analyzer>> {
    Ok(liftkit::analyze::spec::load_all(extra)?)
}

/// Refuses an output directory that holds something unless `--force`: a lift must not mix its
/// results with someone else's files. With `--force`, only the apps being built are replaced.
pub fn prepare_output(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            bail!("{}: exists and is not a directory", out.display());
        }
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("{}: cannot list", out.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            bail!(
                "{}: exists and is not empty (use --force to replace the applications it holds)",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))
}

pub fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner().with_message(message.to_string());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

pub fn bar(len: u64, message: &str) -> ProgressBar {
    let pb = ProgressBar::new(len).with_message(message.to_string());
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} [{elapsed}]")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb
}

/// Prints findings of warning level and above to stderr, and says how many infos were kept.
pub fn report_findings(findings: &[Finding]) {
    let mut infos = 0;
    for f in findings {
        if f.level >= Level::Warning {
            eprintln!("{f}");
        } else {
            infos += 1;
        }
    }
    if infos > 0 {
        eprintln!("({infos} informational findings are in the plan)");
    }
}

/// 1 when the run finished but with error-level findings, else 0.
pub fn exit_code(findings: &[Finding]) -> ExitCode {
    if findings.iter().any(|f| f.level == Level::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub use liftkit::report::text::human_bytes;

pub fn print_build_summary(builds: &[AppBuild], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(builds).unwrap_or_default()
        );
        return;
    }
    for b in builds {
        println!(
            "{}: {}  image {} ({} files; layer {} compressed)",
            b.app,
            b.image,
            human_bytes(b.content_bytes),
            b.entries,
            human_bytes(b.layer_bytes)
        );
        println!(
            "  out:  {}/  (oci/, image.tar, run.sh, plan.yaml, build.json, report.*)",
            b.dir.display()
        );
        if b.volume_bytes > 0 {
            println!(
                "  volumes: {} copied from the host",
                human_bytes(b.volume_bytes)
            );
        }
        println!("  run:  {}/run.sh", b.dir.display());
        println!("  report: {}/report.html", b.dir.display());
    }
}
