//! The trial run's flags, shared by `lift` (on by default) and `build` (with `--trial`).

use anyhow::Result;
use liftkit::build::{self, AppBuild};
use liftkit::findings::Finding;
use liftkit::host::Host;
use liftkit::pipeline::{self, Session};
use liftkit::plan::Plan;
use liftkit::trial::{Options, Trial};
use liftkit::verify::Engine;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct TrialArgs {
    /// Rounds of the trial run at most (start, probe, add what it missed, rebuild).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub trial_rounds: u32,
    /// Seconds one round waits for the lifted app to listen.
    #[arg(long, value_name = "SECS", default_value_t = 45)]
    pub trial_timeout: u64,
}

impl Default for TrialArgs {
    /// The flags' defaults, for the wizard (which asks no trial questions).
    fn default() -> TrialArgs {
        TrialArgs {
            trial_rounds: 10,
            trial_timeout: 45,
        }
    }
}

impl TrialArgs {
    pub fn options(&self) -> Options {
        let mut o = Options::new(Engine::from_env());
        o.rounds = self.trial_rounds.max(1);
        o.round_timeout = Duration::from_secs(self.trial_timeout.max(1));
        o.budget = o.budget.max(o.round_timeout * 2);
        o
    }
}

/// The trial of every built app, as lift, the wizard and a disk lift run it: its rounds said on
/// stderr, the plan saved again with what the trial added, and its findings, each with its app.
/// `None` (`--no-trial`, or no engine for the wizard): nothing runs, no findings.
pub fn run_and_save(
    session: &Session,
    plan: &mut Plan,
    host: &dyn Host,
    out: &Path,
    builds: &mut [AppBuild],
    options: &build::Options,
    trial: Option<Options>,
) -> Result<Vec<(String, Finding)>> {
    let Some(trial) = trial else {
        return Ok(Vec::new());
    };
    let trials = session.trial(plan, host, out, builds, options, &trial);
    print(&trials);
    pipeline::save_plan(out, plan)?;
    Ok(trials
        .into_iter()
        .flat_map(|t| {
            let app = t.app;
            t.findings.into_iter().map(move |f| (app.clone(), f))
        })
        .collect())
}

/// One line per app on stderr: what the trial did.
pub fn print(trials: &[Trial]) {
    for t in trials {
        eprintln!("trial {}: {}", t.app, liftkit::trial::summary(t).summary);
        for r in &t.rounds {
            let added = if r.added.is_empty() {
                "nothing new".to_string()
            } else {
                format!("added {}", r.added.join(" "))
            };
            eprintln!(
                "  round {}: {} ({:.1} s), {added}",
                r.round,
                if r.answered {
                    "answered"
                } else {
                    "did not answer"
                },
                r.seconds
            );
        }
    }
}
