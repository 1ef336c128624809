//! The container engine, driven the way a user drives it: through the app's own run.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone)]
pub struct Engine {
    /// The engine command with its global flags (`podman --runtime runc`), as run.sh takes it.
    pub command: String,
    /// Extra flags for `run`, as run.sh's ENGINE_RUN_FLAGS.
    pub run_flags: String,
    /// podman's images, containers, locks and temporary files live here instead of the
    /// machine's store (see [`Engine::private`]); None: the engine's own state.
    pub state: Option<PathBuf>,
}

impl Engine {
    /// `$ENGINE` and `$ENGINE_RUN_FLAGS` when set, else podman (or docker when only it is here).
    pub fn from_env() -> Engine {
        let command = std::env::var("ENGINE")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| {
                if on_path("podman") || !on_path("docker") {
                    "podman".to_string()
                } else {
                    "docker".to_string()
                }
            });
        Engine {
            command,
            run_flags: std::env::var("ENGINE_RUN_FLAGS").unwrap_or_default(),
            state: None,
        }
    }

    /// The same engine keeping all its state under `dir` (created): a trial or verify on a
    /// customer's host then leaves the machine's image store, container list, event log and
    /// network configuration as they were, and everything goes with `dir`. Only podman can be
    /// pointed elsewhere (docker's state is its daemon's); a `dir` holding whitespace cannot
    /// travel through run.sh's ENGINE word list. In both cases the engine is returned as is.
    pub fn private(&self, dir: &Path) -> std::io::Result<Engine> {
        let program = self.command.split_whitespace().next().unwrap_or("");
        let podman = Path::new(program).file_name() == Some(std::ffi::OsStr::new("podman"));
        let dir = std::path::absolute(dir)?;
        if !podman || dir.to_string_lossy().contains(char::is_whitespace) {
            return Ok(self.clone());
        }
        for sub in ["storage", "libpod", "networks", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let d = dir.display();
        let run = short_runroot();
        let mut command = self.command.clone();
        command.push_str(&format!(
            " --root {d}/storage --runroot {} --tmpdir {d}/libpod \
             --network-config-dir {d}/networks --events-backend none",
            run.display()
        ));
        Ok(Engine {
            command,
            run_flags: self.run_flags.clone(),
            state: Some(dir),
        })
    }

    /// Environment for anything that runs the engine (run.sh too): with a private state, big
    /// temporary files (an image being loaded) go there rather than to /var/tmp.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        match &self.state {
            Some(d) => vec![("TMPDIR", d.join("tmp"))],
            None => Vec::new(),
        }
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut parts = self.command.split_whitespace();
        let mut c = Command::new(parts.next().unwrap_or("podman"));
        c.args(parts);
        c.envs(self.env());
        c
    }

    /// Loads `image.tar` into a private state before run.sh looks for it. podman 4 keeps a
    /// cache of blob digests at /var/lib/containers/cache whatever `--root` says, and unpacks
    /// the archive under /var/tmp whatever TMPDIR says; the load therefore runs in a mount
    /// namespace of its own where that cache directory (or its nearest existing parent) is an
    /// empty tmpfs and /var/tmp is the state's `tmp/`, so the host's copies are neither read
    /// nor written. When the state itself is under /var/tmp (an output directory there), the
    /// entry of /var/tmp that holds it is bound back in place first, so the state's paths still
    /// lead to it. The archive goes in on stdin, opened before the mounts. Without a private
    /// state run.sh loads as a user's run would.
    pub fn load_privately(&self, image_tar: &Path) -> Result<(), String> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let mounts = private_load_mounts(&state.join("tmp")).map_err(|e| {
            format!(
                "cannot prepare a private load under {}: {e}",
                state.display()
            )
        })?;
        let archive = std::fs::File::open(image_tar)
            .map_err(|e| format!("cannot read {}: {e}", image_tar.display()))?;
        let mut c = self.cmd();
        c.arg("load");
        // SAFETY: between fork and exec only async-signal-safe calls (unshare, mount) on
        // NUL-terminated strings made before the fork.
        unsafe {
            use std::os::unix::process::CommandExt;
            c.pre_exec(move || {
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for m in &mounts {
                    if m.apply() != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let out = c
            .stdin(archive)
            .output()
            .map_err(|e| format!("cannot load {} privately: {e}", image_tar.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} load < {}: {}",
                self.command,
                image_tar.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Removes every container and image of a private state, then the state itself (the
    /// overlay mounts of a container go with it). Nothing to do for the engine's own state.
    pub fn discard(&self) {
        let Some(dir) = &self.state else { return };
        // podman itself removes what it made: containers, images, the storage and the runroot.
        let _ = self
            .cmd()
            .args(["system", "reset", "--force"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // podman bind-mounts its overlay directory onto itself while it runs; a mount left by
        // a killed podman would make the removal fail half-way.
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut points: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| Path::new(p).starts_with(dir))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                if let Ok(c) = std::ffi::CString::new(p) {
                    // SAFETY: umount2 with a NUL-terminated path.
                    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                }
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Whether the engine runs at all: the difference between "the app failed" and "nothing
    /// could be tried here".
    pub fn check(&self) -> Result<(), String> {
        let out = self
            .cmd()
            .args(["version"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("no container engine: {}: {e}", self.command))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "the container engine does not run ({}): {}",
                self.command,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// The container's main process on this host, or why it has none: it exited at start
    /// (with its status and last log lines).
    pub fn pid(&self, name: &str) -> Result<i32, String> {
        let out = self
            .cmd()
            .args(["inspect", "-f", "{{.State.Pid}} {{.State.ExitCode}}", name])
            .output()
            .map_err(|e| format!("{}: {e}", self.command))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut words = text.split_whitespace();
        let pid = words.next().and_then(|p| p.parse::<i32>().ok());
        let code = words.next().unwrap_or("?");
        match pid {
            Some(p) if p > 0 => Ok(p),
            _ => Err(format!(
                "it exited at start (status {code}): {}",
                self.logs_tail(name, 5).join(" | ")
            )),
        }
    }

    /// `stop -t GRACE`: the image's stop signal, then SIGKILL.
    pub fn stop(&self, name: &str, grace_s: u32) {
        let _ = self
            .cmd()
            .args(["stop", "-t", &grace_s.to_string(), name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Removes images by id (the trial's intermediate builds).
    pub fn remove_image(&self, id: &str) {
        let _ = self
            .cmd()
            .args(["rmi", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub fn logs_tail(&self, name: &str, lines: usize) -> Vec<String> {
        let Ok(out) = self.cmd().args(["logs", name]).output() else {
            return Vec::new();
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Vec<String> = text.lines().map(str::to_string).collect();
        all[all.len().saturating_sub(lines)..].to_vec()
    }

    /// Runs `argv` inside the running container (`exec`), killed after `timeout`: an acceptance
    /// test's command.
    pub fn exec(
        &self,
        name: &str,
        argv: &[String],
        timeout: std::time::Duration,
    ) -> super::accept::CommandRun {
        let mut c = self.cmd();
        c.arg("exec").arg(name).args(argv);
        let (exit, output) = run_bounded(c, timeout);
        let head: String = String::from_utf8_lossy(&output[..output.len().min(4096)]).into();
        super::accept::CommandRun {
            argv: argv.to_vec(),
            exit,
            output_head: head,
            output_bytes: output.len(),
        }
    }

    pub fn remove(&self, name: &str) {
        let _ = self.cmd().args(["rm", "-f", "-t", "3", name]).output();
    }
}

/// podman refuses a runroot longer than 50 characters (its sockets live there), so it cannot
/// sit in an output directory of any length: a short directory of its own under /run (root) or
/// the user's runtime directory, which podman creates and `system reset` removes.
fn short_runroot() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // SAFETY: geteuid has no arguments.
    let base = if unsafe { libc::geteuid() } == 0 {
        PathBuf::from("/run/liftkit")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("liftkit"))
            .unwrap_or_else(|| std::env::temp_dir().join("liftkit"))
    };
    base.join(format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Discards a private engine state when dropped, however the run that used it ended.
pub struct Discard<'a>(pub &'a Engine);

impl Drop for Discard<'_> {
    fn drop(&mut self) {
        self.0.discard();
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Runs a command to its end or until `timeout` (then kills it): its exit status (None when
/// killed or not started) and its standard output followed by its standard error.
fn run_bounded(mut c: Command, timeout: std::time::Duration) -> (Option<i32>, Vec<u8>) {
    use std::io::Read;
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(ch) => ch,
        Err(e) => return (None, format!("cannot run: {e}").into_bytes()),
    };
    // Both pipes are drained while the command runs, so a talkative one cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.by_ref().take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + timeout;
    let exit = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut bytes = out.join().unwrap_or_default();
    bytes.extend(err.join().unwrap_or_default());
    (exit, bytes)
}

/// One mount(2) call, its strings made before a fork.
struct MountCall {
    source: std::ffi::CString,
    target: std::ffi::CString,
    fstype: Option<std::ffi::CString>,
    flags: libc::c_ulong,
    data: Option<std::ffi::CString>,
}

impl MountCall {
    fn new(source: &Path, target: &Path, flags: libc::c_ulong) -> std::io::Result<MountCall> {
        Ok(MountCall {
            source: c_path(source)?,
            target: c_path(target)?,
            fstype: None,
            flags,
            data: None,
        })
    }

    /// The call's result, as mount(2) returns it (async-signal-safe: no allocation).
    fn apply(&self) -> libc::c_int {
        let ptr =
            |s: &Option<std::ffi::CString>| s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: every pointer is a NUL-terminated string owned by self, or null.
        unsafe {
            libc::mount(
                self.source.as_ptr(),
                self.target.as_ptr(),
                ptr(&self.fstype),
                self.flags,
                ptr(&self.data).cast(),
            )
        }
    }
}

fn c_path(p: &Path) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// The mounts of [`Engine::load_privately`]'s namespace, in order, for a state whose temporary
/// directory is `state_tmp` (it must exist).
fn private_load_mounts(state_tmp: &Path) -> std::io::Result<Vec<MountCall>> {
    let var_tmp = Path::new("/var/tmp");
    let mut cache = PathBuf::from("/var/lib/containers/cache");
    while !cache.is_dir() {
        match cache.parent() {
            Some(p) if p != Path::new("/") => cache = p.to_path_buf(),
            _ => break,
        }
    }
    let mut private = MountCall::new(Path::new("none"), Path::new("/"), 0)?;
    private.flags = libc::MS_REC | libc::MS_PRIVATE;
    let mut tmpfs = MountCall::new(Path::new("tmpfs"), &cache, libc::MS_NOSUID | libc::MS_NODEV)?;
    tmpfs.fstype = Some(c"tmpfs".into());
    tmpfs.data = Some(c"mode=0700".into());
    let mut mounts = vec![private, tmpfs];
    let state_tmp = state_tmp.canonicalize()?;
    let real_var_tmp = var_tmp.canonicalize()?;
    if let Ok(rest) = state_tmp.strip_prefix(&real_var_tmp) {
        // The state lives under /var/tmp/<top>: <top> is bound into the state's tmp/ (a
        // directory bound into its own subdirectory is not a loop: the new mount has no mounts
        // below it), and comes along when tmp/ is bound over /var/tmp.
        if let Some(top) = rest.components().next() {
            let keep = state_tmp.join(top);
            std::fs::create_dir_all(&keep)?;
            mounts.push(MountCall::new(
                &real_var_tmp.join(top),
                &keep,
                libc::MS_BIND | libc::MS_REC,
            )?);
        }
    }
    mounts.push(MountCall::new(
        &state_tmp,
        &real_var_tmp,
        libc::MS_BIND | libc::MS_REC,
    )?);
    Ok(mounts)
}
