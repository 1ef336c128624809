//! PID 1's loop: runs the onboot containers in order, starts the services with the OCI runtime,
//! reaps every child, restarts services by their policy, and powers off cleanly when the power
//! button is pressed or init is told to (SIGTERM, SIGUSR2, SIGPWR, SIGINT from ctrl-alt-del).

use crate::config::{Restart, Service};
use crate::power::Buttons;
use crate::{log, mounts, sys, warn};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const ONBOOT_DIR: &str = "/containers/onboot";
pub const SERVICES_DIR: &str = "/containers/services";
const STOP_GRACE: Duration = Duration::from_secs(10);

struct Running {
    service: Service,
    pid: Option<i32>,
    restart_at: Option<Instant>,
    restarts: u32,
}

pub struct Supervisor {
    runtime: String,
    services: Vec<Running>,
    buttons: Buttons,
    signals: libc::c_int,
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
                .map(|service| Running {
                    service,
                    pid: None,
                    restart_at: Some(Instant::now()),
                    restarts: 0,
                })
                .collect(),
            buttons: Buttons::default(),
            signals,
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
        match runtime_cmd(&self.runtime)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&name)
            .spawn()
        {
            Ok(child) => {
                log(&format!("started {name} (runtime pid {})", child.id()));
                self.services[i].pid = Some(child.id() as i32);
            }
            Err(e) => {
                warn(&format!("cannot start {name} with {}: {e}", self.runtime));
                self.schedule_restart(i, 1);
            }
        }
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
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals)
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
        for pfd in &fds[1..] {
            if pfd.revents != 0 && self.buttons.pressed(pfd.fd) {
                power = true;
            }
        }
        if fds[0].revents != 0 {
            power |= self.read_signals();
        }
        power
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
            let Some(i) = self.services.iter().position(|r| r.pid == Some(pid)) else {
                continue; // an orphan re-parented to init: reaped, nothing else to do
            };
            let code = sys::exit_code(status);
            self.services[i].pid = None;
            warn(&format!(
                "{} exited with status {code}",
                self.services[i].service.name
            ));
            self.schedule_restart(i, code);
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
            std::thread::sleep(Duration::from_millis(50));
        }
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
