//! The trial run: after the build, the lifted image is started in a sandbox, traced by its own
//! supervisor, and probed; every file it looked for and did not find that the source host has is
//! added to the plan (`opened by the lifted app in its trial run`), the app is rebuilt, and the
//! round repeats until a round finds nothing new (bounded in rounds and time). The last round's
//! answers are then compared with the original's, as verify compares them.
//!
//! The sandbox is verify's: run.sh with its own network namespace (loopback only: the app never
//! sees the host's addresses), its own pid and mount namespaces, a copy of its volumes. The app
//! never runs against the host's files or network; the host is only read, through `Host`, for the
//! files to add.

pub mod fix;
mod ports;
pub mod syscalls;
pub mod trace;

use crate::analyze::PackageIndex;
use crate::build::{self, AppBuild};
use crate::elf::{ResolveOptions, Resolver};
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{Plan, Probe};
use crate::verify::probe::{self, Outcome};
use crate::verify::sandbox::{Extra, Sandbox, StartError};
use crate::verify::{self, Engine, ProbeResult, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the trace directory is mounted in the container, and the trace file in it.
pub(crate) const TRACE_DIR: &str = "/.liftkit/trial";
pub(crate) const TRACE_FILE: &str = "/.liftkit/trial/trace";

#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    /// At most this many rounds (each a start, probes, a stop; then a rebuild if it found some).
    pub rounds: u32,
    /// How long one round waits for the app to listen.
    pub round_timeout: Duration,
    /// The whole trial of one app: no round starts after it.
    pub budget: Duration,
}

impl Options {
    pub fn new(engine: Engine) -> Options {
        Options {
            engine,
            rounds: 10,
            round_timeout: Duration::from_secs(45),
            budget: Duration::from_secs(300),
        }
    }
}

/// What the trial of one app did, as `out/<app>/trial.json` keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub app: String,
    /// Why the trial was not run (no engine, no user namespaces); None when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    pub rounds: Vec<Round>,
    /// The last round's answers against the original's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    pub probes: Vec<ProbeResult>,
    /// What it could not fix, in sentences (also findings).
    pub unresolved: Vec<String>,
    /// The last round's trace: what the app read, wrote, was refused, and its system calls
    /// (a seccomp profile and a read-only root are made from these).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_trace: Option<TraceSummary>,
    /// What the hardening saw and did not act on (a refusal the app survived, a write that
    /// could not be placed), in sentences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hardening: Vec<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: u32,
    pub answered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_after_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Paths this round added to the plan.
    pub added: Vec<String>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs_tail: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    /// Files opened for reading or executed: the working set.
    pub read: Vec<String>,
    pub written: Vec<String>,
    /// Looked for, not found, and not on the source either (probing, mostly).
    pub missing_elsewhere: usize,
    pub denied: BTreeMap<String, String>,
    pub refused: Vec<String>,
    pub syscalls: Vec<String>,
}

impl Trial {
    fn not_run(app: &str, why: String) -> Trial {
        Trial {
            app: app.to_string(),
            findings: vec![Finding::warning(
                app,
                format!("the trial run was not run: {why}"),
            )],
            not_run: Some(why),
            rounds: Vec::new(),
            verdict: None,
            probes: Vec::new(),
            unresolved: Vec::new(),
            last_trace: None,
            hardening: Vec::new(),
        }
    }

    /// Every path the trial added, over all rounds.
    pub fn added(&self) -> Vec<&str> {
        self.rounds
            .iter()
            .flat_map(|r| r.added.iter().map(String::as_str))
            .collect()
    }
}

/// Why no sandbox can be made here, if so: no engine, or (unprivileged) no user namespaces.
pub fn unavailable(engine: &Engine) -> Option<String> {
    // SAFETY: geteuid has no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if max == Some(0) {
            return Some(
                "user namespaces are disabled (user.max_user_namespaces = 0), so an \
                 unprivileged engine cannot make a sandbox"
                    .to_string(),
            );
        }
    }
    engine.check().err()
}

/// Runs the trial of `plan.apps[index]`, built as `built` in `out`; returns the trial and the
/// last build (a new one when a round added files). The plan's app is updated in place.
pub fn run(
    plan: &mut Plan,
    index: usize,
    host: &dyn Host,
    out: &Path,
    built: AppBuild,
    build_opts: &build::Options,
    opts: &Options,
) -> (Trial, AppBuild) {
    let app_name = plan.apps[index].name.clone();
    let work = match TraceDir::new(out, &plan.apps[index].slug()) {
        Ok(w) => w,
        Err(e) => return (Trial::not_run(&app_name, e), built),
    };
    // The trial's images and containers live in a podman state of its own beside the trace,
    // gone when the trial ends: the machine's image store and container list stay as they were.
    let private = match opts.engine.private(&work.parent.join("engine")) {
        Ok(engine) => Options {
            engine,
            ..opts.clone()
        },
        Err(e) => return (Trial::not_run(&app_name, e.to_string()), built),
    };
    let _discard = verify::Discard(&private.engine);
    let opts = &private;
    if let Some(why) = unavailable(&opts.engine) {
        return (Trial::not_run(&app_name, why), built);
    }
    let resolver = Resolver::new(
        host,
        ResolveOptions {
            cpu_level: Some(plan.source.cpu_level).filter(|l| *l > 0),
        },
    );
    let packages = PackageIndex::load(host);
    let mut probes = probes_for(&mut plan.apps[index]);
    let started = Instant::now();
    let mut current = built;
    let mut superseded: Vec<String> = Vec::new();
    let mut trial = Trial {
        app: app_name.clone(),
        not_run: None,
        rounds: Vec::new(),
        verdict: None,
        probes: Vec::new(),
        unresolved: Vec::new(),
        last_trace: None,
        hardening: Vec::new(),
        findings: Vec::new(),
    };
    let mut last_trace = None;
    let mut syscalls_seen = std::collections::BTreeSet::new();
    for n in 1..=opts.rounds {
        if n > 1 && started.elapsed() >= opts.budget {
            trial.unresolved.push(format!(
                "the trial's time ({} s) ran out after {} rounds",
                opts.budget.as_secs(),
                n - 1
            ));
            break;
        }
        let round_start = Instant::now();
        let seen = match observe_round(plan, index, &current, &work, &probes, opts) {
            Ok(s) => s,
            Err(why) => {
                if n == 1 {
                    return (Trial::not_run(&app_name, why), current);
                }
                trial.unresolved.push(why);
                break;
            }
        };
        let app = &plan.apps[index];
        let verdict = verify::verdict(
            seen.observed.ready_after_ms.is_some(),
            &seen.observed.probes,
        );
        let failed = seen.observed.failure.is_some() || verdict != Verdict::Same;
        let mut adds = match &seen.trace {
            Some(t) => fix::additions(t, app, host, &resolver, &packages, !failed),
            None => fix::Additions::default(),
        };
        let proposals = seen
            .trace
            .as_ref()
            .map(|t| crate::harden::observed::from_trace(app, host, t, failed))
            .unwrap_or_default();
        adds.volumes = proposals.volumes;
        if app.image.listen.is_empty() {
            adds.listen = seen.listening.clone();
        }
        for note in proposals.notes {
            if !trial.hardening.contains(&note) {
                trial.hardening.push(note);
            }
        }
        // A refusal on a path (not the read-only root's): the app may switch user itself.
        let refused = seen.trace.as_ref().is_some_and(|t| {
            t.denied
                .values()
                .any(|why| why.ends_with("EACCES") || why.ends_with("EPERM"))
        });
        if adds.is_empty() && seen.observed.failure.is_some() && refused {
            adds.run_as_root = fix::switches_user(app, host);
        }
        // Capabilities last: only when nothing else explains the failure, so a refusal the
        // app survives, or one a missing file caused, grants nothing.
        if adds.is_empty() && failed {
            adds.grants = proposals.grants;
        }
        if let Some(t) = &seen.trace {
            syscalls_seen.extend(t.syscall_names());
        }
        let mut round = Round {
            round: n,
            answered: seen.observed.failure.is_none(),
            ready_after_ms: seen.observed.ready_after_ms,
            failure: seen.observed.failure.clone(),
            added: adds.paths(),
            seconds: 0.0,
            logs_tail: if seen.observed.failure.is_some() {
                seen.logs_tail.clone()
            } else {
                Vec::new()
            },
        };
        trial.probes = seen.observed.probes.clone();
        trial.verdict = Some(verdict);
        if seen.trace.is_none() {
            trial.unresolved.push(
                "the supervisor wrote no trace (an image built without it, or ptrace refused \
                 by the engine's seccomp profile)"
                    .to_string(),
            );
        }
        last_trace = seen.trace;
        if adds.is_empty() {
            round.seconds = round_start.elapsed().as_secs_f64();
            trial.rounds.push(round);
            if seen.observed.failure.is_some() {
                trial.unresolved.push(format!(
                    "the lifted app did not answer in its trial run: {}",
                    seen.observed.failure.unwrap_or_default()
                ));
            }
            break;
        }
        adds.apply(&mut plan.apps[index]);
        if !adds.listen.is_empty() {
            // No original answered on these ports: the next round probes what the plan says
            // and a TCP connect, without asking the source host anything.
            probes = learned_probes(&plan.apps[index]);
        }
        match build::build_app(plan, &plan.apps[index], host, out, build_opts) {
            Ok(b) => {
                superseded.push(current.config_digest.clone());
                current = b;
            }
            Err(e) => {
                trial
                    .unresolved
                    .push(format!("rebuilding after round {n} failed: {e}"));
                round.seconds = round_start.elapsed().as_secs_f64();
                trial.rounds.push(round);
                break;
            }
        }
        round.seconds = round_start.elapsed().as_secs_f64();
        trial.rounds.push(round);
        if n == opts.rounds {
            trial.unresolved.push(format!(
                "round {n}, the last allowed, still found files to add: the image has them, but \
                 no round checked it since"
            ));
        }
    }
    for id in superseded {
        if id != current.config_digest {
            opts.engine.remove_image(id.trim_start_matches("sha256:"));
        }
    }
    if let Some(t) = &last_trace {
        let answered = trial.verdict == Some(Verdict::Same);
        record_hardening(&mut plan.apps[index], t, syscalls_seen, answered);
        let as_built = crate::harden::applied(&plan.apps[index], build_opts.seccomp);
        if let Err(e) = build::hardening::after_trial(plan, &as_built, &mut current) {
            trial
                .unresolved
                .push(format!("the hardening could not be recorded: {e}"));
        }
        trial.last_trace = Some(summarize(t, host));
        for (path, why) in &t.denied {
            // A write the read-only root refused is the hardening's (placed, or noted as
            // tolerated in plan.hardening.writes).
            if why.ends_with("EROFS") && plan.apps[index].hardening.read_only {
                continue;
            }
            trial
                .unresolved
                .push(format!("{path}: refused in the trial run ({why})"));
        }
    }
    match trial.verdict {
        Some(Verdict::Differs) => trial.unresolved.push(
            "the lifted app answered differently from the original in its trial run".to_string(),
        ),
        Some(Verdict::Failed)
            if !trial
                .unresolved
                .iter()
                .any(|u| u.contains("did not answer")) =>
        {
            // A last round that added files still ended without an answer: say that first.
            let last_failure = trial.rounds.last().and_then(|r| r.failure.clone());
            trial.unresolved.push(match last_failure {
                Some(why) => format!("the lifted app did not answer in its trial run: {why}"),
                None => "a probe failed against the lifted app in its trial run".to_string(),
            })
        }
        _ => {}
    }
    trial.findings = trial
        .unresolved
        .iter()
        .map(|u| Finding::warning(&app_name, format!("trial run: {u}")))
        .chain(
            trial
                .hardening
                .iter()
                .map(|h| Finding::info(&app_name, format!("trial run, hardening: {h}"))),
        )
        .collect();
    (trial, current)
}

/// Keeps what the trial saw in the plan's hardening: the system calls of every round (the
/// profile's own part) and the places the last round wrote.
fn record_hardening(
    app: &mut crate::plan::AppPlan,
    last: &trace::Trace,
    syscalls: std::collections::BTreeSet<String>,
    answered: bool,
) {
    let refused = last
        .denied
        .iter()
        .filter(|(_, why)| why.ends_with("EROFS"))
        .map(|(p, _)| p.as_str());
    crate::harden::placement::keep_scratch_holding_state(app, last.write_set().into_iter());
    let observed = crate::harden::placement::observed_writes(
        app,
        last.write_set().into_iter(),
        refused,
        answered,
    );
    let h = &mut app.hardening;
    h.syscalls = syscalls.into_iter().collect();
    for w in observed {
        match h.writes.iter_mut().find(|x| x.path == w.path) {
            Some(x) if !x.why.contains(&w.why) => x.why = format!("{}; {}", x.why, w.why),
            Some(_) => {}
            None => h.writes.push(w),
        }
    }
    h.writes.sort();
}

struct Seen {
    observed: verify::Observed,
    /// Where the app listened, looked at when the plan knew no port.
    listening: Vec<String>,
    trace: Option<trace::Trace>,
    logs_tail: Vec<String>,
}

/// One round: start the built image traced, wait, probe, stop, read the trace.
fn observe_round(
    plan: &Plan,
    index: usize,
    built: &AppBuild,
    work: &TraceDir,
    probes: &[Probe],
    opts: &Options,
) -> Result<Seen, String> {
    let app = &plan.apps[index];
    work.clear();
    let name = format!("liftkit-trial-{}-{}", app.slug(), std::process::id());
    let extra = Extra {
        env: vec![(crate::trial::TRACE_ENV.to_string(), TRACE_FILE.to_string())],
        mounts: vec![(work.dir.clone(), TRACE_DIR.to_string())],
        // The supervisor traces a master that drops privileges (root → its user): reading a
        // non-dumpable tracee's memory needs the capability in the trial, never in the image.
        cap_add: vec!["SYS_PTRACE".to_string()],
        engine_seccomp: true,
    };
    let sandbox = match Sandbox::start(&opts.engine, &built.dir, &name, &extra, false) {
        Ok(s) => s,
        Err(StartError::Engine(e)) => return Err(e),
        Err(StartError::Refused(why)) => {
            return Ok(Seen {
                observed: verify::Observed {
                    ready_after_ms: None,
                    probes: Vec::new(),
                    failure: Some(why),
                    logs_tail: Vec::new(),
                },
                trace: work.trace(),
                logs_tail: Vec::new(),
                listening: Vec::new(),
            })
        }
    };
    let mut listening = Vec::new();
    let observed = if verify::listen_addresses(app).is_empty() {
        // Nothing to probe: let it start up, then look at what it did and where it listens.
        std::thread::sleep(Duration::from_secs(5));
        let pid = sandbox.pid();
        if let Ok(pid) = pid {
            listening = ports::listening(pid);
        }
        verify::Observed {
            ready_after_ms: None,
            probes: Vec::new(),
            failure: pid.err(),
            logs_tail: Vec::new(),
        }
    } else {
        verify::observe(app, &sandbox, probes, opts.round_timeout)
    };
    sandbox.stop(5);
    let logs_tail = sandbox.logs_tail(20);
    drop(sandbox);
    Ok(Seen {
        observed,
        trace: work.trace(),
        logs_tail,
        listening,
    })
}

pub const TRACE_ENV: &str = "LIFTKIT_TRACE";

/// The trial's probes: the plan's, a TCP connect to every port, and `GET /` where the original
/// speaks HTTP (added to the plan too, so verify asks it later).
fn probes_for(app: &mut crate::plan::AppPlan) -> Vec<Probe> {
    let addrs = verify::listen_addresses(app);
    if !app.probes.iter().any(|p| p.http.is_some()) {
        if let Some(addr) = addrs.first() {
            let get = Probe {
                http: Some("GET /".to_string()),
                ..Probe::default()
            };
            if matches!(probe::run(&get, *addr), Outcome::Http { .. }) {
                app.probes.push(get);
            }
        }
    }
    let mut probes = app.probes.clone();
    if !probes.iter().any(|p| p.tcp.is_some()) && !addrs.is_empty() {
        probes.push(Probe {
            tcp: Some(true),
            ..Probe::default()
        });
    }
    probes
}

/// The probes for ports learnt in the trial: the plan's own, and a TCP connect.
fn learned_probes(app: &crate::plan::AppPlan) -> Vec<Probe> {
    let mut probes = app.probes.clone();
    if !probes.iter().any(|p| p.tcp.is_some()) {
        probes.push(Probe {
            tcp: Some(true),
            ..Probe::default()
        });
    }
    probes
}

fn summarize(t: &trace::Trace, host: &dyn Host) -> TraceSummary {
    let files = |set: std::collections::BTreeSet<&str>| -> Vec<String> {
        set.into_iter()
            .filter(|p| {
                !["/proc/", "/sys/", "/dev/"]
                    .iter()
                    .any(|k| p.starts_with(k))
            })
            .map(str::to_string)
            .collect()
    };
    TraceSummary {
        read: files(t.read_set()),
        written: files(t.write_set()),
        missing_elsewhere: t
            .missing
            .keys()
            .filter(|p| !host.exists(Path::new(p)))
            .count(),
        denied: t.denied.clone(),
        refused: t
            .refused
            .iter()
            .map(|(nr, e)| {
                let name =
                    syscalls::name(t.arch, *nr).map_or_else(|| format!("#{nr}"), String::from);
                format!("{name} {e}")
            })
            .collect(),
        syscalls: t.syscall_names(),
    }
}

/// The host directory the container writes its trace into: a private parent (0700) so no other
/// user of this machine can feed the trial paths, a leaf any container user can write. It is
/// made in the output directory (liftkit writes nowhere else), unless that path holds
/// whitespace, which a bind mount cannot carry through run.sh's flags.
pub(crate) struct TraceDir {
    parent: PathBuf,
    pub(crate) dir: PathBuf,
}

impl TraceDir {
    pub(crate) fn new(out: &Path, slug: &str) -> Result<TraceDir, String> {
        use std::os::unix::fs::PermissionsExt;
        let out = std::path::absolute(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let base = if out.to_string_lossy().contains(char::is_whitespace) {
            std::env::temp_dir()
        } else {
            out
        };
        let parent = base.join(format!(".liftkit-trial-{}-{slug}", std::process::id()));
        let dir = parent.join("trace");
        let _ = std::fs::remove_dir_all(&parent);
        let made = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)))
            .and_then(|_| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)));
        made.map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(TraceDir { parent, dir })
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(self.dir.join("trace"));
    }

    pub(crate) fn trace(&self) -> Option<trace::Trace> {
        let text = std::fs::read_to_string(self.dir.join("trace")).ok()?;
        trace::parse(&text).ok()
    }
}

impl Drop for TraceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

/// Writes `trial.json` into the app's directory and shows the trial in its report.
pub fn record(app_dir: &Path, trial: &Trial) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(trial).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(&app_dir.join("trial.json"), (json + "\n").as_bytes())?;
    let _ = crate::report::set_trial(app_dir, summary(trial));
    Ok(())
}

/// The report's view of a trial.
pub fn summary(t: &Trial) -> crate::report::TrialSummary {
    crate::report::TrialSummary {
        ran: t.not_run.is_none(),
        summary: match (&t.not_run, t.verdict) {
            (Some(why), _) => format!("not run: {why}"),
            (None, v) => format!(
                "{} round(s), {} file(s) added; last round: {}",
                t.rounds.len(),
                t.added().len(),
                match v {
                    // A disk's app, or one lifted from a snapshot elsewhere: nothing to compare.
                    Some(Verdict::Same) if t.probes.iter().all(|p| p.original.is_none()) => {
                        "answered (no original here to compare with)"
                    }
                    Some(Verdict::Same) => "answers as the original",
                    Some(Verdict::Differs) => "answers differently from the original",
                    _ => "did not answer",
                }
            ),
        },
        rounds: t
            .rounds
            .iter()
            .map(|r| crate::report::TrialRound {
                round: r.round,
                answered: r.answered,
                added: r.added.clone(),
                detail: r.failure.clone().unwrap_or_default(),
            })
            .collect(),
        unresolved: t.unresolved.clone(),
    }
}
