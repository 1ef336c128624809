//! `liftkit wizard` (and `liftkit lift` at a terminal with nothing selected): walks a person
//! through a lift; `liftkit lift --answers FILE` replays the saved answers without a terminal.
//!
//! Nothing is written until every question is answered; then the snapshot, plan and answers are
//! written atomically and the images are built the way `lift` builds them. Ctrl-C at any point
//! leaves only whole files behind.

use super::common;
use super::wizard_term::{decide_colours, Terminal};
use anyhow::{bail, Context as _, Result};
use liftkit::analyze::Candidate;
use liftkit::build::AppBuild;
use liftkit::pipeline;
use liftkit::plan::Plan;
use liftkit::verify;
use liftkit::wizard::flow::{self, Context};
use liftkit::wizard::{Answers, Asker, Replay, Rewind, Session, WizardError};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Answers are saved to DIR/answers.yaml; replay them without a terminal:\n  \
liftkit lift --answers DIR/answers.yaml -o DIR2/"
)]
pub struct Args {
    /// Output directory offered as the default (the wizard asks).
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Allow a non-empty output directory (the applications it holds are replaced).
    #[arg(long)]
    pub force: bool,
    /// Answers of an earlier run, offered as the defaults (the same engagement, another server).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

/// What a run takes besides its asker.
pub struct Run<'a> {
    pub output: PathBuf,
    pub output_fixed: bool,
    pub force: bool,
    pub analyzers: Option<&'a Path>,
    pub json: bool,
    /// Analyze every application before asking, to show each one's fit.
    pub fit_up_front: bool,
}

pub fn at_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !at_terminal() {
        bail!(
            "the wizard needs a terminal on stdin and stderr; replay saved answers with \
             `liftkit lift --answers FILE -o DIR`"
        );
    }
    let prefill = match &args.answers {
        Some(f) => Answers::load(f)?,
        None => Answers::default(),
    };
    let mut term = Terminal::new(decide_colours(), prefill);
    let run = Run {
        output: args.output.clone(),
        output_fixed: false,
        force: args.force,
        analyzers: args.analyzers.as_deref(),
        json: false,
        fit_up_front: true,
    };
    interactive(&mut term, &run)
}

/// The wizard at a terminal.
pub fn interactive(term: &mut Terminal, run: &Run) -> Result<ExitCode> {
    outcome(drive(term, run))
}

/// `liftkit lift --answers FILE`: the same questions, answered by the file.
pub fn replay(file: &Path, run: &Run) -> Result<ExitCode> {
    decide_colours();
    let mut replay = Replay::load(file)?;
    let code = outcome(drive(&mut replay, run))?;
    // An output given on the command line replaces the answered one on purpose.
    for id in replay
        .unused()
        .into_iter()
        .filter(|id| !(run.output_fixed && id == "output.dir"))
    {
        eprintln!(
            "warning: {}: {id}: answer not used (no such question in this run)",
            file.display()
        );
    }
    Ok(code)
}

fn outcome(r: Result<ExitCode>) -> Result<ExitCode> {
    match r {
        Err(e) if interrupted(&e) => Ok(on_interrupt()),
        other => other,
    }
}

fn drive(asker: &mut dyn Asker, run: &Run) -> Result<ExitCode> {
    install_interrupt_handler();
    let analyzers = common::analyzers(run.analyzers)?;
    let bars = common::Bars::default();
    let pipe = pipeline::Session::new(&analyzers, &bars);
    let snap = pipe.collect();
    let candidates = pipe.candidates(&snap);
    let host = liftkit::host::live();
    let opts = pipeline::live_options();
    let plan_of = |chosen: &[Candidate]| pipe.analyze(&snap, &host, chosen, &opts);
    let everything = (run.fit_up_front && !candidates.is_empty()).then(|| plan_of(&candidates));
    let fits: Option<BTreeMap<_, _>> = everything
        .as_ref()
        .map(|p| p.apps.iter().map(|a| (a.name.clone(), a.fit)).collect());
    let mut analyze_chosen = |chosen: &[Candidate]| match &everything {
        Some(all) => Plan {
            apps: all
                .apps
                .iter()
                .filter(|a| chosen.iter().any(|c| c.name == a.name))
                .cloned()
                .collect(),
            ..all.clone()
        },
        None => plan_of(chosen),
    };
    let mut rewind = Rewind::new(asker);
    if run.fit_up_front {
        rewind.say(super::wizard_term::HOW_TO_GO_BACK);
    }
    let (decision, answers) = loop {
        rewind.restart();
        let mut session = Session::new(&mut rewind, &snap.host.hostname);
        let decided = flow::decide(
            &mut session,
            Context {
                snapshot: &snap,
                candidates: &candidates,
                fits: fits.as_ref(),
                analyze: &mut analyze_chosen,
                output: run.output.clone(),
                output_fixed: run.output_fixed,
                force: run.force,
            },
        );
        match decided {
            Ok(d) => break (d, session.answers),
            // Back from the first question asks it again: there is nothing before it.
            Err(WizardError::Back) => {
                drop(session);
                rewind.back();
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut session = Session::new(&mut rewind, &snap.host.hostname);
    session.answers = answers;
    let out = &decision.output;
    watch_output(out);
    common::prepare_output(out, run.force)?;
    let answers_path = out.join("answers.yaml");
    let save_answers = |a: &Answers| {
        a.save(&answers_path)
            .with_context(|| format!("{}: cannot write", answers_path.display()))
    };
    pipeline::save_inputs(out, &snap, &decision.plan)?;
    save_answers(&session.answers)?;
    if !decision.build {
        eprintln!(
            "plan and answers saved in {d}/; build later with: liftkit build {d}/plan.yaml -o {d} --force",
            d = out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let request = pipeline::BuildRequest {
        include_secrets: decision.include_secrets,
        source_date_epoch: common::source_date_epoch()?,
        seccomp: false,
    };
    let mut plan = decision.plan.clone();
    let options = pipeline::build_options(&request, Some(snap));
    let mut builds = pipe.build_with(&plan, &host, out, &options)?;
    // The trial run, as `lift` does it: what the app looks for and the host has is added, and
    // the places it writes under the read-only root are given a tmpfs or volume.
    let trial_findings = super::trial_args::run_and_save(
        &pipe,
        &mut plan,
        &host,
        out,
        &mut builds,
        &options,
        engine_available().then(|| super::trial_args::TrialArgs::default().options()),
    )?;
    common::print_build_summary(&builds, run.json)?;
    verify_each(
        &mut session,
        &plan,
        &builds,
        run.fit_up_front && engine_available(),
    )?;
    save_answers(&session.answers)?;
    eprintln!("answers saved: {}", answers_path.display());
    let mut findings = pipeline::findings(&plan, &builds);
    findings.extend(trial_findings.iter().map(|(_, f)| f.clone()));
    common::report_run(Some(&plan), &builds, &trial_findings);
    Ok(common::exit_code(&findings))
}

/// `yes_by_default`: at a terminal with an engine at hand, verifying is what a person wants.
fn verify_each(
    session: &mut Session,
    plan: &Plan,
    builds: &[AppBuild],
    yes_by_default: bool,
) -> Result<()> {
    for (app, built) in plan.apps.iter().zip(builds) {
        let Some(q) = flow::verify_question(app, yes_by_default) else {
            continue;
        };
        // The build is done: going back from here means not verifying.
        let yes = match session.ask(&q) {
            Err(WizardError::Back) => false,
            answer => answer?.as_bool(),
        };
        if !yes {
            continue;
        }
        match verify_app(built) {
            Ok(msg) => eprintln!("{}: verified: {msg}", app.name),
            Err(e) => eprintln!(
                "{}: not verified: {e:#}{}",
                app.name,
                common::engine_hint(&e)
            ),
        }
    }
    Ok(())
}

/// Whether a container engine is at hand: `$ENGINE`, else podman or docker on the PATH.
fn engine_available() -> bool {
    if std::env::var_os("ENGINE").is_some_and(|e| !e.is_empty()) {
        return true;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join("podman").is_file() || d.join("docker").is_file())
}

/// `liftkit verify` on one built app: it runs in its own network namespace and the analyzer's
/// probes are compared with the original's answers.
fn verify_app(built: &AppBuild) -> Result<String> {
    let opts = verify::Options {
        engine: verify::Engine::from_env(),
        timeout: Duration::from_secs(60),
        keep: false,
    };
    let pb = common::spinner(&format!("verifying {}", built.app));
    let report = verify::verify(&built.dir, &opts);
    pb.finish_and_clear();
    let report = report?;
    let probes = report.probes.len();
    match (report.verdict, report.ready_after_ms) {
        (verify::Verdict::Same, Some(ms)) => Ok(format!(
            "listening after {ms} ms; {probes} probes answered as the original did \
             (verify.json in {})",
            built.dir.display()
        )),
        (verify::Verdict::Differs, _) => bail!(
            "it answers, but differently from the original (see {}/verify.json)",
            built.dir.display()
        ),
        _ => match &report.failure {
            Some(why) => bail!("{why}{}", common::engine_hint_for(why)),
            None => bail!(
                "it did not answer; its last log lines:\n  {}",
                report.logs_tail.join("\n  ")
            ),
        },
    }
}

// Ctrl-C. dialoguer puts the terminal back before raising SIGINT, but leaves the cursor hidden,
// and a build interrupted by the default handler leaves its staging directory: the handler shows
// the cursor, removes staging and temporary files, and exits 130.

static OUTPUT: Mutex<Option<(PathBuf, bool)>> = Mutex::new(None);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Held while cleaning up, so the handler thread and the main thread (whose prompt returned
/// "interrupted") clean up once, and neither exits before it is done.
static CLEANED: Mutex<bool> = Mutex::new(false);

fn install_interrupt_handler() {
    // Only fails when a handler is already set (a second run in one process): keep that one.
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        clean_up_after_interrupt();
        std::process::exit(130);
    });
}

/// From here on, an interrupt cleans up `out` (and removes it if this run created it and it is
/// still empty).
fn watch_output(out: &Path) {
    if let Ok(mut g) = OUTPUT.lock() {
        *g = Some((out.to_path_buf(), !out.exists()));
    }
}

fn interrupted(e: &anyhow::Error) -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
        || matches!(
            e.downcast_ref::<WizardError>(),
            Some(WizardError::Interrupted)
        )
}

fn on_interrupt() -> ExitCode {
    clean_up_after_interrupt();
    ExitCode::from(130)
}

fn clean_up_after_interrupt() {
    let Ok(mut done) = CLEANED.lock() else {
        return;
    };
    if *done {
        return;
    }
    *done = true;
    let watched = OUTPUT.lock().ok().and_then(|g| g.clone());
    if let Some((out, created)) = watched {
        remove_partial(&out, created);
    }
    if std::io::stderr().is_terminal() {
        eprint!("\x1b[?25h");
    }
    eprintln!("\nliftkit: interrupted: nothing half-written was left behind");
}

/// Staging directories (`.<app>.partial`) and atomic-write temporaries (`.<name>.tmp-<pid>`).
/// Tried a few times: the build may still be writing into a staging directory being removed.
fn remove_partial(out: &Path, created: bool) {
    for _ in 0..3 {
        let Ok(entries) = std::fs::read_dir(out) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                continue;
            }
            let p = e.path();
            if name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(&p);
            } else if name.contains(".tmp-") {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    if created {
        let _ = std::fs::remove_dir(out);
    }
}
