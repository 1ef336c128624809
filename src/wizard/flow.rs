//! The wizard's logic, written once against [`Session`]: choose applications, review and change
//! each one's plan, choose where to write. The same questions, in the same order, whether a
//! person answers them or an answers file does.
//!
//! Question ids:
//! - `apps.select` — the applications to lift (keys: the names `liftkit lift` lists)
//! - `app.<name>.review` — look at a group of files (navigation, not saved)
//! - `app.<name>.volumes.<path>.populate` — copy the host's data into the volume
//! - `app.<name>.ports`, `app.<name>.user`, `app.<name>.entrypoint`
//! - `app.<name>.logs` — `engine` or `files` (asked when its analyzer sends logs to the engine)
//! - `secrets.include` — bake files that look like secrets into the images
//! - `output.dir`, `build.confirm`
//! - `app.<name>.verify` — start the built image and check it answers (asked after the build)

use super::review::{self, ROLES};
use super::{edit, Choice, Question, Session, WizardError};
use crate::analyze::Candidate;
use crate::plan::logs::{self, Route};
use crate::plan::{AppPlan, Fit, Plan, VolumeKind};
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub candidates: &'a [Candidate],
    /// Fit of each candidate by name, when every one was analyzed up front (for a person to
    /// choose by); a replay analyzes only what it selects.
    pub fits: Option<&'a BTreeMap<String, Fit>>,
    /// Plans the chosen candidates.
    pub analyze: &'a mut dyn FnMut(&[Candidate]) -> Plan,
    pub output: PathBuf,
    /// The output was given on the command line of a replay: used as is, not asked.
    pub output_fixed: bool,
    pub force: bool,
}

/// What the answers decided.
#[derive(Debug)]
pub struct Decision {
    pub plan: Plan,
    pub output: PathBuf,
    pub include_secrets: bool,
    pub build: bool,
}

pub fn decide(s: &mut Session, cx: Context) -> Result<Decision, WizardError> {
    let chosen = choose_apps(s, &cx)?;
    let mut plan = (cx.analyze)(&chosen);
    for app in &mut plan.apps {
        review_app(s, app, cx.snapshot)?;
    }
    let include_secrets = if plan.apps.iter().any(|a| !review::secrets(a).is_empty()) {
        s.ask(&Question::confirm(
            "secrets.include",
            "bake the files that look like secrets into the images? (no: run.sh mounts them \
             from secrets/ at run time)",
            false,
        ))?
        .as_bool()
    } else {
        false
    };
    let output = if cx.output_fixed {
        edit::check_output(&cx.output, cx.force).map_err(|reason| WizardError::Invalid {
            file: cx.output.clone(),
            id: "output.dir".to_string(),
            reason,
        })?;
        // Recorded, so the answers this run saves replay to where it wrote.
        s.answers.set(
            "output.dir",
            super::Answer::Text(cx.output.to_string_lossy().into_owned()),
        );
        cx.output.clone()
    } else {
        // Offered only where it would be accepted: `out` holding an earlier run becomes `out-2`.
        let q = Question::text(
            "output.dir",
            "output directory (plan.yaml, answers.yaml and one directory per application)",
            edit::free_output(&cx.output, cx.force).to_string_lossy(),
            Some(edit::output_validator(cx.force)),
        );
        PathBuf::from(s.ask(&q)?.as_text().trim())
    };
    let names: Vec<&str> = plan.apps.iter().map(|a| a.name.as_str()).collect();
    let build = s
        .ask(&Question::confirm(
            "build.confirm",
            format!("build {} into {} now?", names.join(", "), output.display()),
            true,
        ))?
        .as_bool();
    Ok(Decision {
        plan,
        output,
        include_secrets,
        build,
    })
}

fn choose_apps(s: &mut Session, cx: &Context) -> Result<Vec<Candidate>, WizardError> {
    if cx.candidates.is_empty() {
        return Err(WizardError::NothingFound {
            host: cx.snapshot.host.hostname.clone(),
        });
    }
    let choices: Vec<Choice> = cx
        .candidates
        .iter()
        .map(|c| Choice {
            key: c.name.clone(),
            label: review::candidate_label(c, cx.fits.and_then(|f| f.get(&c.name).copied())),
            aliases: aliases(c),
        })
        .collect();
    let q = Question::multi_select(
        "apps.select",
        "applications to lift (space selects, enter confirms)",
        choices.clone(),
        1,
    );
    let keys = s.ask(&q)?.as_many().to_vec();
    let mut chosen: Vec<Candidate> = Vec::new();
    for key in keys {
        let Ok(choice) = super::question::find_choice(&choices, &key) else {
            continue; // the asker checked every key
        };
        let Some(c) = cx.candidates.iter().find(|c| c.name == choice.key) else {
            continue;
        };
        if chosen.iter().any(|x| x.pids == c.pids) {
            continue;
        }
        // Keep the answered name: question ids, the image name and the output directory
        // follow it, so a replay builds what the wizard built.
        chosen.push(Candidate {
            name: key,
            ..c.clone()
        });
    }
    Ok(chosen)
}

/// Other names the same application gets where fewer or more of its kind run: the bare name,
/// and the name with each port or the master's pid (how `liftkit lift` tells apps apart).
fn aliases(c: &Candidate) -> Vec<String> {
    let ports: Vec<&str> = c
        .listen
        .iter()
        .filter_map(|l| l.rsplit_once(':'))
        .filter_map(|(_, p)| p.split('/').next())
        .collect();
    let pid = c.root_pid().to_string();
    let base = ports
        .first()
        .copied()
        .into_iter()
        .chain([pid.as_str()])
        .find_map(|suffix| c.name.strip_suffix(&format!("-{suffix}")))
        .unwrap_or(&c.name)
        .to_string();
    let mut out = vec![base.clone()];
    out.extend(ports.iter().map(|p| format!("{base}-{p}")));
    out.push(format!("{base}-{pid}"));
    out.retain(|a| *a != c.name);
    out.dedup();
    out
}

fn review_app(s: &mut Session, app: &mut AppPlan, snapshot: &Snapshot) -> Result<(), WizardError> {
    let p = format!("app.{}", app.name);
    s.say(&review::summary(app));
    look_around(s, app, &p)?;
    for i in 0..app.volumes.len() {
        let v = &app.volumes[i];
        if v.kind != VolumeKind::Volume {
            continue;
        }
        let q = Question::confirm(
            format!("{p}.volumes.{}.populate", v.path),
            format!("{}: copy the host's data into volume {}?", app.name, v.path),
            v.populate,
        );
        app.volumes[i].populate = s.ask(&q)?.as_bool();
    }
    let q = Question::text(
        format!("{p}.ports"),
        format!(
            "{}: ports (like 8080/tcp, 53/udp; none for no ports)",
            app.name
        ),
        if app.image.ports.is_empty() {
            "none".to_string()
        } else {
            app.image.ports.join(", ")
        },
        Some(edit::ports_validator()),
    );
    app.image.ports = edit::parse_ports(s.ask(&q)?.as_text()).unwrap_or_default();
    let q = Question::text(
        format!("{p}.user"),
        format!("{}: run as user", app.name),
        app.image.user.clone(),
        Some(edit::user_validator(snapshot)),
    );
    let user = s.ask(&q)?.as_text().to_string();
    edit::set_user(app, snapshot, &user);
    let q = Question::text(
        format!("{p}.entrypoint"),
        format!("{}: entrypoint", app.name),
        review::words(&app.image.entrypoint),
        Some(edit::entrypoint_validator(app)),
    );
    if let Ok(words) = edit::parse_entrypoint(s.ask(&q)?.as_text()) {
        app.image.entrypoint = words;
    }
    let logs = logs::engine_logs(app).join(", ");
    if !logs.is_empty() {
        let choices = [Route::Engine, Route::Files]
            .map(|r| Choice::new(r.name(), format!("{}: {}", r.name(), r.describe())))
            .to_vec();
        let q = Question::select(
            format!("{p}.logs"),
            format!("{}: logs ({logs}) go", app.name),
            choices,
            Route::Engine.name(),
        );
        let route = Route::parse(s.ask(&q)?.as_text()).unwrap_or_default();
        logs::route(app, route);
    }
    Ok(())
}

/// Lets a person expand the groups of files before accepting; nothing here changes the plan.
fn look_around(s: &mut Session, app: &AppPlan, p: &str) -> Result<(), WizardError> {
    let counts = review::role_counts(app);
    let mut choices = vec![Choice::new(
        "continue",
        "looks right: continue to the settings",
    )];
    for role in ROLES {
        if let Some(n) = counts.get(&role) {
            choices.push(Choice::new(
                format!("files.{}", review::role_name(role)),
                format!("show the {n} {} files", review::role_name(role)),
            ));
        }
    }
    let written = app.generated.len() + app.links.len() + app.dirs.len();
    if written > 0 {
        choices.push(Choice::new(
            "files.generated",
            format!("show the {written} files, links and dirs liftkit writes"),
        ));
    }
    if !app.findings.is_empty() {
        choices.push(Choice::new(
            "findings",
            format!("show the {} findings", app.findings.len()),
        ));
    }
    let q = Question::select(
        format!("{p}.review"),
        format!("{}: review", app.name),
        choices,
        "continue",
    )
    .not_recorded();
    loop {
        let key = s.ask(&q)?.as_text().to_string();
        let text = match key.as_str() {
            "continue" => return Ok(()),
            "files.generated" => review::generated_of(app),
            "findings" => review::findings_of(app),
            k => match ROLES
                .iter()
                .find(|r| k == format!("files.{}", review::role_name(**r)))
            {
                Some(role) => review::files_of(app, *role),
                None => return Ok(()),
            },
        };
        s.say(&text);
    }
}

/// Asked after the build, for each app with an address to probe.
pub fn verify_question(app: &AppPlan, yes_by_default: bool) -> Option<Question> {
    let addrs = crate::verify::listen_addresses(app);
    let first = addrs.first()?;
    Some(Question::confirm(
        format!("app.{}.verify", app.name),
        format!(
            "{}: verify now (run the image in its own network namespace, probe {first} and \
             compare with the original)?",
            app.name
        ),
        yes_by_default,
    ))
}
