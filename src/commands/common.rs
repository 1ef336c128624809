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
    report_app_findings(&[], findings.iter().map(|f| ("", f)).collect());
}

/// The findings of a run, each warning and error named by its app (`warning: nginx: …`), then
/// the informational ones counted where a person finds them: in the plan (the wizard's review
/// counts the same) and in the build's reports.
pub fn report_run(
    plan: Option<&liftkit::plan::Plan>,
    builds: &[AppBuild],
    later: &[(String, Finding)],
) {
    let mut tagged: Vec<(&str, &Finding)> = Vec::new();
    for a in plan.iter().flat_map(|p| &p.apps) {
        tagged.extend(a.findings.iter().map(|f| (a.name.as_str(), f)));
    }
    let from_plan = tagged.len();
    for b in builds {
        tagged.extend(b.findings.iter().map(|f| (b.app.as_str(), f)));
    }
    tagged.extend(later.iter().map(|(app, f)| (app.as_str(), f)));
    let origins = [
        ("the plan", from_plan),
        ("the build", tagged.len() - from_plan),
    ];
    report_app_findings(&origins, tagged);
}

fn report_app_findings(origins: &[(&str, usize)], findings: Vec<(&str, &Finding)>) {
    let mut infos = [0usize; 2];
    for (i, (app, f)) in findings.iter().enumerate() {
        if f.level >= Level::Warning {
            if app.is_empty() {
                eprintln!("{f}");
            } else {
                eprintln!("{}: {app}: {}: {}", f.level, f.subject, f.message);
            }
        } else {
            let from_plan = origins.first().is_none_or(|(_, n)| i < *n);
            infos[usize::from(!from_plan)] += 1;
        }
    }
    if let Some(line) = infos_line(infos) {
        eprintln!("{line}");
    }
}

/// How many informational findings there were and where a person finds them, counted as the
/// wizard's review counts them (`findings N in the plan`), so the two screens agree.
fn infos_line([p, b]: [usize; 2]) -> Option<String> {
    let total = p + b;
    let s = if total == 1 { "" } else { "s" };
    match (p, b) {
        (0, 0) => None,
        (_, 0) => Some(format!("({total} informational finding{s} in the plan)")),
        (0, _) => Some(format!(
            "({total} informational finding{s} from the build, in each report.html)"
        )),
        (p, b) => Some(format!(
            "({total} informational findings: {p} in the plan, {b} from the build; all in each \
             app's report.html)"
        )),
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
        // A bar of one item sits at 0/1 until it is done: a spinner says more.
        let pb = match total {
            Some(n) if n > 1 => bar(n, what),
            _ => spinner(what),
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
                if pb.length().is_none() && total.is_none_or(|t| t <= 1) {
                    return;
                }
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

/// The exclude rules for a plan written to `plan`: the `.liftignore` beside it, then `--exclude`.
pub fn excludes(plan: &Path, patterns: &[String]) -> Result<liftkit::analyze::exclude::Excludes> {
    let dir = match plan.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok(liftkit::analyze::exclude::Excludes::load(dir, patterns)?)
}

/// What to try when the engine itself failed (not the app): most hosts that refuse a container
/// need the engine's runtime or limits chosen, which run.sh and verify take from the environment.
pub fn engine_hint(e: &anyhow::Error) -> String {
    let engine_failed = e
        .downcast_ref::<liftkit::verify::VerifyError>()
        .is_some_and(|v| matches!(v, liftkit::verify::VerifyError::Engine(_)));
    if engine_failed {
        hint_for_engine()
    } else {
        String::new()
    }
}

/// The hint when a verify or trial failure reads as the engine refusing the container (run.sh
/// failed to create it), not the app failing in it.
pub fn engine_hint_for(failure: &str) -> String {
    let refused = [
        "run.sh failed",
        "OCI ",
        "runc create failed",
        "crun:",
        "error setting rlimit",
    ]
    .iter()
    .any(|w| failure.contains(w));
    if refused {
        hint_for_engine()
    } else {
        String::new()
    }
}

fn hint_for_engine() -> String {
    format!(
        "\nhint: the container engine could not start the container. Set ENGINE (the engine \
         with its global flags, now {:?}) and ENGINE_RUN_FLAGS (flags for `run`, now {:?}); \
         a host with hybrid cgroups and low limits needs for example\n  \
         ENGINE=\"podman --runtime runc --cgroup-manager=cgroupfs\" \
         ENGINE_RUN_FLAGS=\"--ulimit nofile=20000:20000 --ulimit nproc=1024:1024\"",
        std::env::var("ENGINE").unwrap_or_default(),
        std::env::var("ENGINE_RUN_FLAGS").unwrap_or_default(),
    )
}

/// What every benchmark that runs liftkit as a program takes.
#[derive(Debug, clap::Args)]
pub struct BenchRun {
    /// The liftkit binary measured (default: this one), e.g. an older build to compare.
    #[arg(long, value_name = "BINARY")]
    pub liftkit: Option<std::path::PathBuf>,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl BenchRun {
    /// The liftkit binary measured: the one given, else this one.
    pub fn binary(&self) -> Result<std::path::PathBuf> {
        match &self.liftkit {
            Some(p) => Ok(p.clone()),
            None => Ok(std::env::current_exe()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liftkit::pipeline::Progress;

    fn length(bars: &Bars) -> Option<u64> {
        bars.0
            .lock()
            .unwrap()
            .as_ref()
            .map(|pb| pb.length())
            .unwrap()
    }

    #[test]
    fn a_step_of_one_item_is_a_spinner_not_a_bar_at_0_of_1() {
        let bars = Bars::default();
        bars.begin("building nginx", Some(1));
        assert_eq!(length(&bars), None, "a spinner has no length");
        bars.advance(0, Some(1));
        assert_eq!(length(&bars), None, "advancing 0/1 keeps the spinner");
        bars.begin("copying files", Some(40));
        assert_eq!(length(&bars), Some(40), "a step that counts items is a bar");
        bars.begin("resolving", None);
        bars.advance(3, Some(12));
        assert_eq!(
            length(&bars),
            Some(12),
            "a count learnt later turns it into a bar"
        );
        bars.end();
        assert!(bars.0.lock().unwrap().is_none());
    }

    #[test]
    fn the_closing_count_says_where_each_finding_is_as_the_review_does() {
        let plan = liftkit::plan::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/nginx/plan.golden.yaml"),
        )
        .unwrap();
        let app = &plan.apps[0];
        let in_plan = app
            .findings
            .iter()
            .filter(|f| f.level < Level::Warning)
            .count();
        let warnings = app.findings.len() - in_plan;
        // The review counts every finding of the plan and says how many are warnings; the
        // closing line counts the rest: together they are the same findings.
        let review = liftkit::wizard::review::summary(app);
        assert!(
            review.contains(&format!(
                "findings   {} in the plan ({warnings} warnings or errors;",
                app.findings.len()
            )),
            "{review}"
        );
        assert_eq!(
            infos_line([in_plan, 0]).unwrap_or_default(),
            if in_plan == 0 {
                String::new()
            } else {
                format!(
                    "({in_plan} informational finding{} in the plan)",
                    if in_plan == 1 { "" } else { "s" }
                )
            }
        );
        assert_eq!(infos_line([0, 0]), None);
        assert_eq!(
            infos_line([1, 0]).unwrap(),
            "(1 informational finding in the plan)"
        );
        assert_eq!(
            infos_line([0, 2]).unwrap(),
            "(2 informational findings from the build, in each report.html)"
        );
        assert_eq!(
            infos_line([2, 1]).unwrap(),
            "(3 informational findings: 2 in the plan, 1 from the build; all in each app's \
             report.html)"
        );
    }
}
