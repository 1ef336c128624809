//! `run`: every app in scope lifted, given its trial run (the pipeline's: the image started in a
//! sandbox, what it missed added from the host, rebuilt), and put to its acceptance tests, in
//! scope order. Resumable: each step is recorded in `state.json` under the digest of what it was
//! made from, so an interrupted run continues where it stopped and a step whose inputs did not
//! change is kept, not redone. One app failing does not stop the others.

use super::plans::{self, AppPlanFile};
use super::scope::AppScope;
use super::state::{Accepted, AppState, Failed, Lifted, RunState, Trial};
use super::{EngagementError, Workspace};
use crate::findings::Level;
use crate::pipeline::{BuildRequest, Session};
use crate::report::text::human_bytes;
use crate::verify::accept;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub build: BuildRequest,
    /// The trial run after each build; None: not run (`--no-trial`).
    pub trial: Option<crate::trial::Options>,
    pub accept: accept::Options,
    /// Run the acceptance tests again even where the plan and the tests did not change.
    pub retest: bool,
}

/// What one step did in this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "detail")]
pub enum Step {
    /// Ran now.
    Done(String),
    /// Done before for the same inputs: not redone.
    Kept(String),
    /// Not run, and why.
    Skipped(String),
    Failed(String),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Done(d) => write!(f, "done: {d}"),
            Step::Kept(d) => write!(f, "kept: {d}"),
            Step::Skipped(d) => write!(f, "skipped: {d}"),
            Step::Failed(d) => write!(f, "FAILED: {d}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AppRun {
    pub id: String,
    pub lift: Step,
    pub trial: Step,
    pub accept: Step,
    /// Whether the app passed its acceptance tests (None: they did not run).
    pub accepted: Option<bool>,
}

impl AppRun {
    /// Lifted and accepted, now or before.
    pub fn ok(&self) -> bool {
        self.accepted == Some(true)
    }
}

/// Runs the engagement; `after_app` is called once per app, after its state is saved.
pub fn run(
    ws: &Workspace,
    session: &Session,
    opts: &RunOptions,
    after_app: &mut dyn FnMut(&AppRun),
) -> Result<Vec<AppRun>, EngagementError> {
    let scope = ws.scope()?;
    let fleet = ws.fleet()?;
    let state_file = ws.state_file();
    let mut state = RunState::load(&state_file)?;
    let mut done = Vec::new();
    for a in scope.in_scope() {
        let id = a.id();
        session.progress.working_on(&id);
        let mut entry = state.apps.get(&id).cloned().unwrap_or_default();
        let app_run = match plans::ensure(ws, session, &fleet, a).and_then(|p| same_app(p, a)) {
            Ok(p) => run_app(ws, session, opts, a, &p, &mut entry, &mut |e| {
                state.apps.insert(id.clone(), e.clone());
                state.save(&state_file)
            })?,
            Err(e) => {
                let why = e.to_string();
                entry.failed = Some(Failed {
                    step: "plan".to_string(),
                    plan_sha256: String::new(),
                    error: why.clone(),
                });
                state.apps.insert(id.clone(), entry);
                state.save(&state_file)?;
                let skipped = Step::Skipped("no plan".to_string());
                AppRun {
                    id: id.clone(),
                    lift: Step::Failed(format!("plan: {why}")),
                    trial: skipped.clone(),
                    accept: skipped,
                    accepted: None,
                }
            }
        };
        after_app(&app_run);
        done.push(app_run);
    }
    Ok(done)
}

/// The plan in the workspace is the scope's app (a hand edit may have renamed it).
fn same_app(p: AppPlanFile, a: &AppScope) -> Result<AppPlanFile, EngagementError> {
    let name = &p.plan.apps[0].name;
    if *name != a.app {
        return Err(EngagementError::Invalid {
            path: p.path.clone(),
            at: "apps[0].name".to_string(),
            message: format!("the plan is of {name:?}, the scope names {:?}", a.app),
        });
    }
    Ok(p)
}

type Save<'s> = dyn FnMut(&AppState) -> Result<(), EngagementError> + 's;

fn run_app(
    ws: &Workspace,
    session: &Session,
    opts: &RunOptions,
    a: &AppScope,
    p: &AppPlanFile,
    entry: &mut AppState,
    save: &mut Save,
) -> Result<AppRun, EngagementError> {
    let (lift, trial) = match lift(ws, session, opts, a, p, entry) {
        Ok(steps) => steps,
        Err(e) => {
            entry.failed = Some(Failed {
                step: "lift".to_string(),
                plan_sha256: p.sha256.clone(),
                error: e.to_string(),
            });
            let skipped = Step::Skipped("not lifted".to_string());
            (Step::Failed(e.to_string()), skipped)
        }
    };
    save(entry)?;
    let lifted = entry.lifted.is_some() && !matches!(lift, Step::Failed(_));
    let accept = if lifted {
        match acceptance(ws, opts, a, p, entry) {
            Ok(step) => step,
            Err(e) => {
                entry.failed = Some(Failed {
                    step: "accept".to_string(),
                    plan_sha256: p.sha256.clone(),
                    error: e.to_string(),
                });
                Step::Failed(e.to_string())
            }
        }
    } else {
        Step::Skipped("not lifted".to_string())
    };
    save(entry)?;
    let accepted = matches!(accept, Step::Done(_) | Step::Kept(_))
        .then(|| entry.accepted.as_ref().map(|x| x.passed))
        .flatten();
    Ok(AppRun {
        id: a.id(),
        lift,
        trial,
        accept,
        accepted,
    })
}

/// The image, then its trial run (which may extend the plan and build it again): one step, kept
/// only when both were done for this plan. (A trial needs the build it tries: a run stopped
/// between the two builds again.)
fn lift(
    ws: &Workspace,
    session: &Session,
    opts: &RunOptions,
    a: &AppScope,
    p: &AppPlanFile,
    entry: &mut AppState,
) -> Result<(Step, Step), EngagementError> {
    let app_dir = ws.app_dir(&a.host, &a.app);
    if let (Some(l), Some(t)) = (&entry.lifted, &entry.trial) {
        if l.plan_sha256 == p.sha256
            && t.plan_sha256 == p.sha256
            && (t.asked || opts.trial.is_none())
            && app_dir.join("build.json").is_file()
        {
            let lift = Step::Kept(format!(
                "{} built from this plan (sha256 {})",
                l.image,
                &p.sha256[..12]
            ));
            return Ok((lift, Step::Kept(t.note.clone())));
        }
    }
    let host = crate::host::select::for_plan(&p.path, &p.plan, None)?;
    let snapshot = crate::snapshot::load(&p.snapshot).ok();
    let out = ws.out_dir(&a.host);
    std::fs::create_dir_all(&out).map_err(super::io_err(&out, "cannot create"))?;
    let options = crate::pipeline::build_options(&opts.build, snapshot);
    let mut plan = p.plan.clone();
    let mut builds = session.build_with(&plan, &*host, &out, &options)?;
    // A new image: what was tried and accepted on the old one no longer holds.
    entry.lifted = None;
    entry.trial = None;
    entry.accepted = None;
    let mut findings = Vec::new();
    let (trial, note, ran) = match &opts.trial {
        None => {
            let note = "not run (--no-trial)".to_string();
            (Step::Skipped(note.clone()), note, false)
        }
        Some(t) => {
            // The plan the trial extends is the app's own (written into its directory by the
            // rebuild), never `plans/`: the workspace's plan is the input whose digest keys the run.
            let trials = session.trial(&mut plan, &*host, &out, &mut builds, &options, t);
            match trials.into_iter().next() {
                Some(t) => {
                    let s = crate::trial::summary(&t);
                    findings = t.findings;
                    let step = if s.ran {
                        Step::Done(s.summary.clone())
                    } else {
                        Step::Skipped(s.summary.clone())
                    };
                    (step, s.summary, s.ran)
                }
                None => {
                    let note = "no build to try".to_string();
                    (Step::Skipped(note.clone()), note, false)
                }
            }
        }
    };
    let b = &builds[0];
    let open_findings = crate::pipeline::findings(&plan, &builds)
        .into_iter()
        .chain(findings)
        .filter(|f| f.level >= Level::Warning)
        .map(|f| f.to_string())
        .collect();
    entry.lifted = Some(Lifted {
        plan_sha256: p.sha256.clone(),
        image: b.image.clone(),
        manifest_digest: b.manifest_digest.clone(),
        content_bytes: b.content_bytes,
        layer_bytes: b.layer_bytes,
        volume_bytes: b.volume_bytes,
        open_findings,
    });
    entry.trial = Some(Trial {
        plan_sha256: p.sha256.clone(),
        asked: opts.trial.is_some(),
        ran,
        note,
    });
    entry.runs.lift += 1;
    if ran {
        entry.runs.trial += 1;
    }
    entry.failed = None;
    let lift = Step::Done(format!(
        "{} ({} files, {})",
        b.image,
        b.entries,
        human_bytes(b.content_bytes)
    ));
    Ok((lift, trial))
}

/// What the acceptance run is made against: the plan and the tests agreed.
pub(crate) fn acceptance_key_of(plan_sha256: &str, tests: &[accept::Test]) -> String {
    let tests = serde_json::to_string(tests).unwrap_or_default();
    super::sha256_hex(format!("{plan_sha256}\n{tests}").as_bytes())
}

fn acceptance(
    ws: &Workspace,
    opts: &RunOptions,
    a: &AppScope,
    p: &AppPlanFile,
    entry: &mut AppState,
) -> Result<Step, EngagementError> {
    let tests = a.tests();
    if tests.is_empty() {
        entry.accepted = None;
        return Ok(Step::Skipped(
            "no acceptance tests agreed for it in the scope".to_string(),
        ));
    }
    let app_dir = ws.app_dir(&a.host, &a.app);
    let key = acceptance_key_of(&p.sha256, tests);
    if let Some(acc) = &entry.accepted {
        if !opts.retest && acc.key_sha256 == key && app_dir.join(accept::FILE).is_file() {
            return Ok(Step::Kept(summary(acc)));
        }
    }
    let result = accept::run(&app_dir, tests, &opts.accept)?;
    let acc = Accepted {
        key_sha256: key,
        passed: result.passed,
        tests: result.results.len(),
        failed: result.failed_count(),
    };
    entry.runs.accept += 1;
    entry.failed = None;
    if let Some(why) = &result.failure {
        // Not tested at all (the container did not start): recorded, and tried again next run.
        entry.accepted = None;
        entry.failed = Some(Failed {
            step: "accept".to_string(),
            plan_sha256: p.sha256.clone(),
            error: why.clone(),
        });
        return Ok(Step::Failed(format!(
            "the app could not be tested: {}",
            accept::last_line(why)
        )));
    }
    let mut text = summary(&acc);
    for r in result.results.iter().filter(|r| !r.passed) {
        text.push_str(&format!("; {}: {}", r.name, r.detail));
    }
    entry.accepted = Some(acc);
    Ok(Step::Done(text))
}

fn summary(acc: &Accepted) -> String {
    if acc.passed {
        format!("all {} acceptance tests passed", acc.tests)
    } else {
        format!("{} of {} acceptance tests failed", acc.failed, acc.tests)
    }
}
