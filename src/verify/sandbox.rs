//! A lifted app started for a look, the way verify and the trial run start it: through its own
//! run.sh, in its own network namespace (`NETWORK=none`: loopback only, never the host's
//! addresses; the engine gives it its own pid and mount namespaces), on a *copy* of its
//! volumes, and removed with everything it made when dropped, whatever happened.

use super::engine::Engine;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a caller adds to the container besides run.sh's own flags.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// `-e NAME=VALUE` for the container.
    pub env: Vec<(String, String)>,
    /// Bind mounts (host directory, container path); paths must hold no whitespace, since
    /// run.sh splits ENGINE_RUN_FLAGS into words.
    pub mounts: Vec<(PathBuf, String)>,
    pub cap_add: Vec<String>,
    /// Run under the engine's own system call profile rather than the app's (`SECCOMP=default`
    /// for run.sh): a traced run needs ptrace, which the app's profile does not allow.
    pub engine_seccomp: bool,
}

/// Why a container could not be looked at.
#[derive(Debug, Clone)]
pub enum StartError {
    /// The engine itself is missing or broken: nothing was learned about the app.
    Engine(String),
    /// run.sh failed to start it: the engine refused the image (an entrypoint the image does
    /// not hold, a flag it does not take). The app did not run.
    Refused(String),
}

/// A started container; dropping it removes the container and the volumes' copy.
pub struct Sandbox<'a> {
    pub engine: &'a Engine,
    pub name: String,
    copy: Option<PathBuf>,
    keep: bool,
}

impl<'a> Sandbox<'a> {
    pub fn start(
        engine: &'a Engine,
        app_dir: &Path,
        name: &str,
        extra: &Extra,
        keep: bool,
    ) -> Result<Sandbox<'a>, StartError> {
        engine.check().map_err(StartError::Engine)?;
        let mut sandbox = Sandbox {
            engine,
            name: name.to_string(),
            copy: None,
            keep,
        };
        engine
            .load_privately(&app_dir.join("image.tar"))
            .map_err(StartError::Engine)?;
        let volumes = app_dir.join("volumes");
        let mut cmd = Command::new("sh");
        cmd.envs(engine.env());
        if volumes.is_dir() {
            let copy = copy_volumes(&volumes, name).map_err(StartError::Engine)?;
            cmd.env("VOLUMES", &copy);
            sandbox.copy = Some(copy);
        }
        let mut flags = vec!["-d".to_string(), "--rm=false".to_string()];
        for (k, v) in &extra.env {
            flags.push(format!("--env={k}={v}"));
        }
        for (host, inside) in &extra.mounts {
            flags.push(format!("--volume={}:{inside}", host.display()));
        }
        for cap in &extra.cap_add {
            flags.push(format!("--cap-add={cap}"));
        }
        flags.push(engine.run_flags.clone());
        if extra.engine_seccomp {
            cmd.env("SECCOMP", "default");
        }
        let out = cmd
            .arg(app_dir.join("run.sh"))
            .env("ENGINE", &engine.command)
            .env("ENGINE_RUN_FLAGS", flags.join(" "))
            .env("NETWORK", "none")
            .env("NAME", name)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                StartError::Engine(format!("cannot run {}/run.sh: {e}", app_dir.display()))
            })?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(StartError::Refused(format!(
                "{}/run.sh failed ({}): {why}",
                app_dir.display(),
                out.status
            )));
        }
        Ok(sandbox)
    }

    /// The container's main process on this host, or why there is none (it exited at start).
    pub fn pid(&self) -> Result<i32, String> {
        self.engine.pid(&self.name)
    }

    pub fn logs_tail(&self, lines: usize) -> Vec<String> {
        self.engine.logs_tail(&self.name, lines)
    }

    /// Stops the app the way the engine stops it (its stop signal, then SIGKILL after
    /// `grace_s`), so its supervisor can write what it saw.
    pub fn stop(&self, grace_s: u32) {
        self.engine.stop(&self.name, grace_s);
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.engine.remove(&self.name);
        }
        if let Some(copy) = self.copy.take() {
            if let Some(parent) = copy.parent() {
                let _ = std::fs::remove_dir_all(parent);
            }
        }
    }
}

/// A copy of `volumes/` beside it (same file system, so `cp --reflink=auto` shares blocks where
/// the file system can): the run may write its data, the deliverable's stays as built.
/// coreutils' cp keeps owners, modes, links, sparse files and extended attributes.
fn copy_volumes(volumes: &Path, name: &str) -> Result<PathBuf, String> {
    let app_dir = volumes.parent().unwrap_or(Path::new("."));
    let out = app_dir.parent().unwrap_or(Path::new("."));
    // Absolute: run.sh takes a VOLUMES that is not a path from / for a named volume (an app
    // directory given as `out/redis` would otherwise not start).
    let work = std::path::absolute(out.join(format!(".{name}.volumes")))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let copy = work.join("volumes");
    let status = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(volumes)
        .arg(&copy)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cp: {e}"))?;
    if !status.status.success() {
        let _ = std::fs::remove_dir_all(&work);
        return Err(format!(
            "cannot copy {} for the run: {}",
            volumes.display(),
            String::from_utf8_lossy(&status.stderr).trim()
        ));
    }
    Ok(copy)
}
