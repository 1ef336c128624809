//! Pieces several verbs share: analyzers, output directories, progress, exit codes.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use liftkit::analyze::Analyzer;
use liftkit::build::AppBuild;
use liftkit::findings::{Finding, Level};
use std::path::Path;
use std::process::ExitCode;

pub fn analyzers(extra: Option<&Path>) -> Result<Vec<Analyzer>> {
    Ok(liftkit::analyze::spec::load_all(extra)?)
}

pub use liftkit::pipeline::prepare_output;

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
    pb.set_style(bar_style());
    pb
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} [{elapsed}]")
        .expect("valid template")
        .progress_chars("=> ")
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

pub fn print_build_summary(builds: &[AppBuild], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(builds)?);
        return Ok(());
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
    Ok(())
}

/// `SOURCE_DATE_EPOCH`, when set: every image's creation time and file mtime.
pub fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Ok(Some(v.trim().parse::<i64>().with_context(|| {
            format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")
        })?)),
        Err(_) => Ok(None),
    }
}

/// Progress of the pipeline's steps on stderr: a bar when the step counts items, else a spinner.
#[derive(Default)]
pub struct Bars(std::sync::Mutex<Option<ProgressBar>>);

impl liftkit::pipeline::Progress for Bars {
    fn begin(&self, what: &str, total: Option<u64>) {
        let pb = match total {
            Some(n) => bar(n, what),
            None => spinner(what),
        };
        if let Ok(mut g) = self.0.lock() {
            if let Some(old) = g.replace(pb) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, done: u64, total: Option<u64>) {
        if let Ok(g) = self.0.lock() {
            if let Some(pb) = g.as_ref() {
                if let Some(t) = total {
                    if pb.length() != Some(t) {
                        pb.set_length(t);
                        pb.set_style(bar_style());
                    }
                }
                pb.set_position(done);
            }
        }
    }

    fn working_on(&self, what: &str) {
        if let Ok(g) = self.0.lock() {
            if let Some(pb) = g.as_ref() {
                pb.set_message(what.to_string());
            }
        }
    }

    fn end(&self) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(pb) = g.take() {
                pb.finish_and_clear();
            }
        }
    }
}
