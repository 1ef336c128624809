//! PID 1's loop: runs the onboot containers in order, starts the services with the OCI runtime,
//! reaps every child, restarts services by their policy, and powers off cleanly when the power
//! button is pressed or init is told to (SIGTERM, SIGUSR2, SIGPWR, SIGINT from ctrl-alt-del).

use crate::config::{Restart, Service};
use crate::power::Buttons;
use crate::{log, mounts, sys, warn};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const ONBOOT_DIR: &str = "/containers/onboot";
pub const SERVICES_DIR: &str = "/containers/services";
const STOP_GRACE: Duration = Duration::from_secs(10);

struct Running {
    service: Service,
    /// The container's process once it runs; while `starting`, the runtime's.
    pid: Option<i32>,
    /// `runc run --detach` has not exited yet: the container's pid is not known.
    starting: bool,
    restart_at: Option<Instant>,
    restarts: u32,
    /// The service's stdout and stderr, a pipe init copies to the console. The runtime runs
    /// detached and hands the container its own stdio: a pipe, as the app expects of a
    /// container's log (a /dev/stderr it reopens), not the console device, which the
    /// container may not open. None: the console itself (the pipe could not be made).
    log: Option<(std::fs::File, OwnedFd)>,
}

pub struct Supervisor {
    runtime: String,
    services: Vec<Running>,
    buttons: Buttons,
    signals: libc::c_int,
    /// Exits of processes that were not (yet) known as a service's: a container that ends
    /// before its runtime does is reaped before its pid is read.
    unclaimed: Vec<(i32, i32)>,
}

/// Where the runtime writes a detached container's pid.
fn pid_file(name: &str) -> std::path::PathBuf {
    Path::new("/run/liftkit").join(format!("{name}.pid"))
}

/// Blocks the signals init handles and returns a signalfd for them (children get a clean mask:
/// std's spawn resets it).
pub fn signal_fd() -> std::io::Result<libc::c_int> {
    // SAFETY: sigset_t is plain data, initialized by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGCHLD,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGPWR,
            libc::SIGHUP,
        ] {
            libc::sigaddset(&mut set, s);
        }
        sys::check(libc::sigprocmask(
            libc::SIG_BLOCK,
            &set,
            std::ptr::null_mut(),
        ))?;
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        sys::check(fd)?;
        Ok(fd)
    }
}

fn runtime_cmd(runtime: &str) -> Command {
    let mut c = Command::new(runtime);
    c.args(["--root", "/run/runc"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null());
    c
}

/// Runs every onboot bundle to completion, in name order.
pub fn onboot(runtime: &str) {
    let Ok(dir) = std::fs::read_dir(ONBOOT_DIR) else {
        return;
    };
    let mut bundles: Vec<_> = dir.flatten().map(|e| e.path()).collect();
    bundles.sort();
    for bundle in bundles {
        let name = bundle
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let status = runtime_cmd(runtime)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("onboot-{name}"))
            .status();
        match status {
            Ok(s) if s.success() => log(&format!("onboot {name}: done")),
            Ok(s) => warn(&format!("onboot {name}: {s}")),
            Err(e) => warn(&format!("onboot {name}: cannot run {runtime}: {e}")),
        }
        let _ = runtime_cmd(runtime)
            .args(["delete", "--force"])
            .arg(format!("onboot-{name}"))
            .status();
    }
}

impl Supervisor {
    pub fn new(runtime: String, services: Vec<Service>, signals: libc::c_int) -> Supervisor {
        Supervisor {
            runtime,
            services: services
                .into_iter()
                .map(|service| {
                    let log = match sys::log_pipe() {
                        Ok((r, w)) => Some((std::fs::File::from(r), w)),
                        Err(e) => {
                            warn(&format!("{}: no log pipe ({e}): the console", service.name));
                            None
                        }
                    };
                    Running {
                        service,
                        pid: None,
                        starting: false,
                        restart_at: Some(Instant::now()),
                        restarts: 0,
                        log,
                    }
                })
                .collect(),
            buttons: Buttons::default(),
            signals,
            unclaimed: Vec::new(),
        }
    }

    pub fn run(mut self) -> ! {
        self.buttons.rescan();
        let mut last_scan = Instant::now();
        log(&format!(
            "watching {} input devices for the power button",
            self.buttons.count()
        ));
        loop {
            self.start_due();
            if self.wait_events() {
                self.shutdown("power button pressed");
            }
            if last_scan.elapsed() > Duration::from_secs(2) {
                self.buttons.rescan();
                last_scan = Instant::now();
            }
        }
    }

    fn start_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.services.len() {
            if self.services[i].restart_at.is_some_and(|t| t <= now) {
                self.services[i].restart_at = None;
                self.start(i);
            }
        }
    }

    fn start(&mut self, i: usize) {
        let name = self.services[i].service.name.clone();
        if self.services[i].restarts > 0 {
            // The exited container's state stays until deleted; the first start has none.
            let _ = runtime_cmd(&self.runtime)
                .args(["delete", "--force", &name])
                .stderr(Stdio::null())
                .status();
        }
        let bundle = Path::new(SERVICES_DIR).join(&name);
        let pid_file = pid_file(&name);
        let _ = std::fs::create_dir_all(pid_file.parent().unwrap_or(Path::new("/run")));
        let _ = std::fs::remove_file(&pid_file);
        // Detached: the runtime exits once the container runs, and the container's process
        // becomes init's child. A runtime left in the foreground for the container's lifetime
        // holds its own memory (runc: several MB of Go heap and stacks) for nothing; init
        // reaps, signals and stops the container itself.
        let mut cmd = runtime_cmd(&self.runtime);
        cmd.args(["run", "--detach", "--pid-file"])
            .arg(&pid_file)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&name);
        if let Some((_, w)) = &self.services[i].log {
            if let (Ok(out), Ok(err)) = (w.try_clone(), w.try_clone()) {
                cmd.stdout(out).stderr(err);
            }
        }
        match cmd.spawn() {
            Ok(child) => {
                self.services[i].pid = Some(child.id() as i32);
                self.services[i].starting = true;
            }
            Err(e) => {
                warn(&format!("cannot start {name} with {}: {e}", self.runtime));
                self.schedule_restart(i, 1);
            }
        }
    }

    /// The runtime that was starting service `i` exited with `code`: the container runs (its
    /// pid in the pid file) or it could not be started.
    fn started(&mut self, i: usize, code: i32) {
        let name = self.services[i].service.name.clone();
        self.services[i].starting = false;
        self.services[i].pid = None;
        if code != 0 {
            warn(&format!(
                "{} could not start {name}: status {code}",
                self.runtime
            ));
            self.schedule_restart(i, code);
            return;
        }
        let pid = std::fs::read_to_string(pid_file(&name))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        let Some(pid) = pid else {
            warn(&format!(
                "{name}: {} left no pid in {}",
                self.runtime,
                pid_file(&name).display()
            ));
            self.schedule_restart(i, 1);
            return;
        };
        log(&format!("started {name} (pid {pid})"));
        if let Some(at) = self.unclaimed.iter().position(|(p, _)| *p == pid) {
            let (_, status) = self.unclaimed.swap_remove(at);
            self.exited(i, status);
        } else {
            self.services[i].pid = Some(pid);
        }
    }

    fn exited(&mut self, i: usize, status: i32) {
        let code = sys::exit_code(status);
        self.services[i].pid = None;
        warn(&format!(
            "{} exited with status {code}",
            self.services[i].service.name
        ));
        self.schedule_restart(i, code);
    }

    fn schedule_restart(&mut self, i: usize, code: i32) {
        let r = &mut self.services[i];
        let again = match r.service.restart {
            Restart::Always => true,
            Restart::OnFailure => code != 0,
            Restart::No => false,
        };
        if !again {
            log(&format!(
                "{} will not be restarted (restart={:?})",
                r.service.name, r.service.restart
            ));
            return;
        }
        r.restarts += 1;
        // Back off up to 10 s so a crash loop does not eat the host.
        let delay = Duration::from_millis(250 * u64::from(r.restarts.min(40)));
        log(&format!(
            "restarting {} in {} ms",
            r.service.name,
            delay.as_millis()
        ));
        r.restart_at = Some(Instant::now() + delay);
    }

    /// Waits for a signal, an input event or the next restart; true when asked to power off.
    fn wait_events(&mut self) -> bool {
        let logs: Vec<libc::c_int> = self.log_fds();
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals)
            .chain(logs.iter().copied())
            .chain(self.buttons.fds())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let timeout = self
            .services
            .iter()
            .filter_map(|r| r.restart_at)
            .min()
            .map_or(2000, |t| {
                t.saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(2000) as i32
            });
        // SAFETY: fds is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n <= 0 {
            return false;
        }
        let mut power = false;
        if fds[1..=logs.len()].iter().any(|p| p.revents != 0) {
            self.relay_logs();
        }
        for pfd in &fds[1 + logs.len()..] {
            if pfd.revents != 0 && self.buttons.pressed(pfd.fd) {
                power = true;
            }
        }
        if fds[0].revents != 0 {
            power |= self.read_signals();
        }
        power
    }

    fn log_fds(&self) -> Vec<libc::c_int> {
        self.services
            .iter()
            .filter_map(|r| r.log.as_ref().map(|(read, _)| read.as_raw_fd()))
            .collect()
    }

    /// Copies whatever the services wrote to the console, as the runtime did in the foreground.
    fn relay_logs(&mut self) {
        let mut buf = [0u8; 16384];
        let mut console = std::io::stdout().lock();
        for r in &mut self.services {
            let Some((read, _)) = r.log.as_mut() else {
                continue;
            };
            // Non-blocking: until the pipe is empty (WouldBlock) or fails.
            while let Ok(n @ 1..) = read.read(&mut buf) {
                let _ = console.write_all(&buf[..n]);
            }
        }
        let _ = console.flush();
    }

    fn read_signals(&mut self) -> bool {
        let mut power = false;
        loop {
            // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n =
                unsafe { libc::read(self.signals, &mut info as *mut _ as *mut libc::c_void, size) };
            if n as usize != size {
                break;
            }
            match info.ssi_signo as i32 {
                libc::SIGCHLD => self.reap(),
                libc::SIGHUP | libc::SIGUSR1 => {}
                sig => {
                    log(&format!("signal {sig}: powering off"));
                    power = true;
                }
            }
        }
        power
    }

    fn reap(&mut self) {
        while let Some((pid, status)) = sys::reap() {
            match self.services.iter().position(|r| r.pid == Some(pid)) {
                Some(i) if self.services[i].starting => self.started(i, sys::exit_code(status)),
                Some(i) => self.exited(i, status),
                // An orphan re-parented to init, or a container whose runtime has not exited
                // yet: kept while a service is starting, for `started` to claim.
                None if self.services.iter().any(|r| r.starting) => {
                    self.unclaimed.push((pid, status))
                }
                None => self.unclaimed.clear(),
            }
        }
    }

    /// Stops the services with their stop signal, then everything else; syncs, unmounts, powers off.
    fn shutdown(&mut self, why: &str) -> ! {
        crate::meminfo::log_usage();
        log(&format!("{why}: stopping services"));
        for r in &mut self.services {
            r.restart_at = None;
            if r.pid.is_some() {
                let _ = runtime_cmd(&self.runtime)
                    .args(["kill", &r.service.name, &r.service.stop_signal])
                    .status();
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while self.services.iter().any(|r| r.pid.is_some()) && Instant::now() < deadline {
            self.reap_quietly();
            self.relay_logs();
            std::thread::sleep(Duration::from_millis(50));
        }
        self.relay_logs();
        for r in self.services.iter().filter(|r| r.pid.is_some()) {
            warn(&format!(
                "{} did not stop within {}s: killing it",
                r.service.name,
                STOP_GRACE.as_secs()
            ));
            let _ = runtime_cmd(&self.runtime)
                .args(["kill", &r.service.name, "KILL"])
                .status();
        }
        for r in &self.services {
            let _ = runtime_cmd(&self.runtime)
                .args(["delete", "--force", &r.service.name])
                .status();
        }
        let _ = sys::kill(-1, libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(200));
        let _ = sys::kill(-1, libc::SIGKILL);
        while sys::reap().is_some() {}
        sys::sync();
        mounts::unmount_all();
        sys::sync();
        log("clean shutdown: filesystems synced and unmounted, powering off");
        crate::power_off()
    }

    fn reap_quietly(&mut self) {
        while let Some((pid, status)) = sys::reap() {
            if let Some(r) = self.services.iter_mut().find(|r| r.pid == Some(pid)) {
                log(&format!(
                    "{} stopped (status {})",
                    r.service.name,
                    sys::exit_code(status)
                ));
                r.pid = None;
            }
        }
    }
}
