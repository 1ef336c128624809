//! The container engine, driven the way a user drives it: through the app's own run.sh.

use std::process::{Command, Stdio};

#[derive(Debug, Clone)]
pub struct Engine {
    /// The engine command with its global flags (`podman --runtime runc`), as run.sh takes it.
    pub command: String,
    /// Extra flags for `run`, as run.sh's ENGINE_RUN_FLAGS.
    pub run_flags: String,
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
        }
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut parts = self.command.split_whitespace();
        let mut c = Command::new(parts.next().unwrap_or("podman"));
        c.args(parts);
        c
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
