//! One service through the whole story, as a consultant would do it: started legacy-style,
//! probed, lifted by pid, stopped (its port checked closed, so nothing reaches the original by
//! mistake), its image run with run.sh, probed again. The tests assert on the result; the
//! generic benchmark tabulates it.

use super::{require, Service, TestbedError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LiftedError {
    #[error(transparent)]
    Testbed(#[from] TestbedError),
    #[error("{service}: the original does not answer its own probe: {why}")]
    Original { service: String, why: String },
    #[error("{service}: the original still listens on {port} after it was stopped")]
    StillListening { service: String, port: u16 },
}

/// How to lift and where to run the image.
pub struct Request<'a> {
    /// The liftkit binary.
    pub liftkit: &'a Path,
    /// `ENGINE` and `ENGINE_RUN_FLAGS`, for the lift's trial and for run.sh.
    pub engine: &'a str,
    pub run_flags: &'a str,
    /// Analyzers off (`lift --generic`).
    pub generic: bool,
    pub extra_args: &'a [&'a str],
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Lifted {
    pub service: String,
    pub generic: bool,
    /// `lift` finished and built an image.
    pub lifted: bool,
    /// The image answered the probe as the original did.
    pub same: bool,
    pub before: String,
    pub after: String,
    pub image_bytes: u64,
    pub trial_rounds: usize,
    pub trial_added: Vec<String>,
    pub lift_seconds: f64,
    /// What went wrong, in a sentence, when not `same`.
    pub why: Option<String>,
    /// The lift's stderr, for a failure's why.
    pub lift_log: String,
    #[serde(skip)]
    pub app_dir: Option<PathBuf>,
    /// How the engine ran the image while it answered (read-only root, capabilities, profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardening: Option<crate::verify::inspect::Inspected>,
    /// The capabilities the app's plan keeps (None: an unhardened plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<String>>,
    /// Tmpfs and volumes of the plan, as `tmpfs /run`, `volume /var/lib/x`.
    pub placements: Vec<String>,
    /// System calls its seccomp.json allows (0: none written).
    pub profile_syscalls: usize,
    /// Recall and image/working set, the working set being the trial's trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<crate::bench::size::Figures>,
}

pub fn lift_and_compare(
    service: &'static Service,
    work: &Path,
    req: &Request,
) -> Result<Lifted, LiftedError> {
    require(service)?;
    let port = super::free_port();
    let dir = work.join(service.name);
    std::fs::create_dir_all(&dir).map_err(super::io(&dir))?;
    super::set_mode(work, 0o755)?;
    super::set_mode(&dir, 0o755)?;
    let out = dir.join("out");
    let start_and_lift = || -> Result<_, LiftedError> {
        if service.init_script {
            super::private_etc(&dir)?;
        }
        let original = (service.start)(&dir, port)?;
        let before = retry_probe(&original, Duration::from_secs(20)).map_err(|why| {
            LiftedError::Original {
                service: service.name.to_string(),
                why,
            }
        })?;
        let mut cmd = Command::new(req.liftkit);
        cmd.args(["lift", "--pid", &original.pid.to_string(), "--force", "-o"])
            .arg(&out)
            .args(req.extra_args)
            .env("ENGINE", req.engine)
            .env("ENGINE_RUN_FLAGS", req.run_flags)
            .stdin(Stdio::null());
        if req.generic {
            cmd.arg("--generic");
        }
        let t0 = Instant::now();
        let lift = cmd.output();
        Ok((original, before, lift, t0.elapsed().as_secs_f64()))
    };
    // A service started by its own init script starts and is lifted in a thread whose mount
    // namespace holds the script; the rest runs in the machine's.
    let (mut original, before, lift, lift_seconds) = if service.init_script {
        std::thread::scope(|s| s.spawn(start_and_lift).join()).map_err(|_| {
            LiftedError::Original {
                service: service.name.to_string(),
                why: "its start panicked".to_string(),
            }
        })??
    } else {
        start_and_lift()?
    };
    let mut result = Lifted {
        service: service.name.to_string(),
        generic: req.generic,
        lifted: false,
        same: false,
        before,
        after: String::new(),
        image_bytes: 0,
        trial_rounds: 0,
        trial_added: Vec::new(),
        lift_seconds,
        why: None,
        lift_log: String::new(),
        app_dir: None,
        hardening: None,
        kept: None,
        placements: Vec::new(),
        profile_syscalls: 0,
        size: None,
    };
    match lift {
        Ok(o) => {
            result.lift_log = String::from_utf8_lossy(&o.stderr).into_owned();
            if !o.status.success() {
                result.why = Some(format!("lift failed ({})", o.status));
            }
        }
        Err(e) => result.why = Some(format!("cannot run liftkit: {e}")),
    }
    if !original.stop() {
        return Err(LiftedError::StillListening {
            service: service.name.to_string(),
            port,
        });
    }
    let Some(app_dir) = app_dir(&out) else {
        result
            .why
            .get_or_insert_with(|| "no image was built".to_string());
        return Ok(result);
    };
    result.lifted = result.why.is_none();
    read_build(&app_dir, &mut result);
    result.app_dir = Some(app_dir.clone());
    let image = image_name(&app_dir);
    let container = format!("liftkit-corpus-{}-{port}", service.name);
    let engine = Engine(req.engine);
    let started = Command::new("sh")
        .arg(app_dir.join("run.sh"))
        .env("ENGINE", req.engine)
        .env(
            "ENGINE_RUN_FLAGS",
            format!("-d --rm=false {}", req.run_flags),
        )
        .env("NAME", &container)
        .stdin(Stdio::null())
        .output();
    match started {
        Ok(o) if o.status.success() => {
            let probed = Running {
                port,
                probe: original.probe,
            };
            match retry_probe_until(&probed, &result.before, Duration::from_secs(30)) {
                Ok(after) => {
                    result.same = after == result.before;
                    if !result.same {
                        result.why = Some("the image answers differently".to_string());
                    }
                    result.after = after;
                    result.hardening = crate::verify::inspect::inspect(
                        &crate::verify::Engine {
                            command: req.engine.to_string(),
                            run_flags: req.run_flags.to_string(),
                            state: None,
                        },
                        &container,
                    );
                }
                Err(why) => {
                    result.why = Some(format!(
                        "the image does not answer: {why}; logs: {}",
                        engine.logs(&container)
                    ))
                }
            }
        }
        Ok(o) => {
            // The engine's own error is last, after its load's progress lines.
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: Vec<&str> = err.trim().lines().rev().take(3).collect();
            result.why = Some(format!(
                "run.sh failed ({}): {}",
                o.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        }
        Err(e) => result.why = Some(format!("cannot run run.sh: {e}")),
    }
    engine.remove(&container, image.as_deref());
    Ok(result)
}

struct Running {
    port: u16,
    probe: fn(u16) -> Result<String, String>,
}

/// A server may listen before it serves: the probe is retried until it answers.
fn retry_probe(r: &super::Running, within: Duration) -> Result<String, String> {
    let deadline = Instant::now() + within;
    loop {
        match r.probe() {
            Ok(a) => return Ok(a),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// Retries until the image answers as the original did, or `within` passes (a database
/// replaying its log answers "starting" first); the last answer is returned either way.
fn retry_probe_until(r: &Running, want: &str, within: Duration) -> Result<String, String> {
    let deadline = Instant::now() + within;
    let mut last = Err("not probed".to_string());
    while Instant::now() < deadline {
        if super::wait_port(r.port, Duration::from_millis(500)) {
            last = (r.probe)(r.port);
            if last.as_deref().is_ok_and(|a| a == want) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    last
}

/// The one application directory `lift -o out` built (the one holding build.json).
pub fn app_dir(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("build.json").exists())
}

fn image_name(app_dir: &Path) -> Option<String> {
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).ok()?).ok()?;
    build["image"].as_str().map(str::to_string)
}

fn read_build(app_dir: &Path, r: &mut Lifted) {
    let json = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(app_dir.join(name)).ok()?).ok()
    };
    let trial = json("trial.json");
    if let Ok(plan) = crate::plan::load(&app_dir.join("plan.yaml")) {
        if let Some(app) = plan.apps.first() {
            r.kept = app.hardening.kept().map(|mut k| {
                k.sort();
                k
            });
            r.placements = app
                .volumes
                .iter()
                .map(|v| format!("{} {}", format!("{:?}", v.kind).to_lowercase(), v.path))
                .collect();
            if !app.hardening.syscalls.is_empty() {
                r.profile_syscalls = crate::harden::seccomp::allowed(&app.hardening.syscalls).len();
            }
            r.size = trial
                .as_ref()
                .and_then(|t| crate::bench::size::from_trial(&r.service, t, app_dir, app).ok());
        }
    }
    if let Some(b) = json("build.json") {
        r.image_bytes = b["content_bytes"].as_u64().unwrap_or(0);
    }
    if let Some(t) = &trial {
        let rounds = t["rounds"].as_array().cloned().unwrap_or_default();
        r.trial_rounds = rounds.len();
        r.trial_added = rounds
            .iter()
            .flat_map(|x| x["added"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
    }
}

struct Engine<'a>(&'a str);

impl Engine<'_> {
    fn cmd(&self) -> Command {
        let mut parts = self.0.split_whitespace();
        let mut c = Command::new(parts.next().unwrap_or("podman"));
        c.args(parts).stdin(Stdio::null());
        c
    }

    fn logs(&self, name: &str) -> String {
        let out = self.cmd().args(["logs", "--tail", "15", name]).output();
        out.map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
    }

    fn remove(&self, container: &str, image: Option<&str>) {
        let _ = self.cmd().args(["rm", "-f", "-t", "2", container]).output();
        if let Some(image) = image {
            let _ = self.cmd().args(["rmi", "-f", image]).output();
        }
    }
}
