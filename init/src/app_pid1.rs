//! `liftkit-init pid1 -- CMD…`: PID 1 of every lifted image (installed as `/.liftkit/pid1`).
//!
//! The image's entrypoint is the host's own command line, unchanged. Many legacy servers
//! daemonize (`memcached -d`, `haproxy -D`, sshd and dnsmasq by default): the command the engine
//! started exits at once, and a container whose PID 1 exits stops. This supervisor runs the
//! command, becomes the child subreaper so whatever it forks stays its descendant, stays up while
//! any descendant lives, forwards the stop signal (and the other signals servers use), reaps every
//! zombie, and exits with the service's status: that of the last process to exit, which for a
//! daemon is the daemon, not the parent that forked it.
//!
//! With `LIFTKIT_TRACE=FILE` in its environment (the trial run sets it; the variable is not
//! passed on) it also follows every descendant with ptrace and records the files they open, miss
//! and are refused, and the system calls they make (see `trace.rs`).

mod trace;

use crate::sys;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// The environment variable naming the trace file.
pub const TRACE_ENV: &str = "LIFTKIT_TRACE";

/// Signals passed on to the service. SIGKILL and SIGSTOP cannot be caught; the engine's SIGKILL
/// ends the whole pid namespace anyway.
const FORWARDED: [libc::c_int; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The supervisor's arguments when this invocation is one: `liftkit-init pid1 …`, or the
/// binary installed under the name `pid1`. It must be decided before the host-image init runs,
/// which would take a container's PID 1 for a VM's.
pub fn invoked(args: &[String]) -> Option<&[String]> {
    if args.get(1).map(String::as_str) == Some("pid1") {
        return Some(&args[2..]);
    }
    let name = args.first()?.rsplit('/').next()?;
    (name == "pid1").then(|| &args[1..])
}

pub fn run(args: &[String]) -> i32 {
    let command: Vec<String> = match args.first().map(String::as_str) {
        Some("--") => args[1..].to_vec(),
        _ => args.to_vec(),
    };
    if command.is_empty() {
        eprintln!("usage: liftkit-init pid1 -- COMMAND [ARG…]");
        return 2;
    }
    let trace_path = std::env::var_os(TRACE_ENV);
    // The service must not see the trial's variable (it is not the host's environment).
    std::env::remove_var(TRACE_ENV);
    let mut tracer = match trace_path {
        Some(p) => match trace::Tracer::create(std::path::Path::new(&p)) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!(
                    "liftkit-pid1: cannot write the trace {}: {e}",
                    p.to_string_lossy()
                );
                None
            }
        },
        None => None,
    };
    // SAFETY: prctl with integer arguments. Orphans of the service (a daemon's detached child)
    // come to us rather than to a PID 1 that would not know them; as PID 1 this is implied.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let signals = match signal_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("liftkit-pid1: signals: {e}");
            return 2;
        }
    };
    let main = match spawn(&command, tracer.is_some()) {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("liftkit-pid1: cannot start {}: {e}", command[0]);
            return 127;
        }
    };
    if let Some(t) = tracer.as_mut() {
        if let Err(e) = t.attach(main) {
            eprintln!("liftkit-pid1: cannot trace {}: {e}", command[0]);
        }
    }
    Supervisor {
        main,
        name: command[0].clone(),
        main_status: None,
        last_status: None,
        tracer,
        signals,
    }
    .run()
}

struct Supervisor {
    main: i32,
    name: String,
    main_status: Option<i32>,
    /// Wait status of the last process (not thread) to exit: the service's.
    last_status: Option<i32>,
    tracer: Option<trace::Tracer>,
    signals: libc::c_int,
}

impl Supervisor {
    fn run(mut self) -> i32 {
        loop {
            if !self.reap() {
                break;
            }
            if let Some(t) = self.tracer.as_mut() {
                t.flush();
            }
            for sig in read_signals(self.signals) {
                if sig != libc::SIGCHLD {
                    self.forward(sig);
                }
            }
        }
        if let Some(t) = self.tracer.as_mut() {
            t.finish();
        }
        self.last_status
            .or(self.main_status)
            .map_or(0, sys::exit_code)
    }

    /// Handles every child event pending; false once no descendant is left.
    fn reap(&mut self) -> bool {
        let flags = libc::WNOHANG
            | if self.tracer.is_some() {
                libc::__WALL
            } else {
                0
            };
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
            if pid == 0 {
                return true;
            }
            if pid < 0 {
                let e = std::io::Error::last_os_error();
                return e.raw_os_error() != Some(libc::ECHILD);
            }
            if libc::WIFSTOPPED(status) {
                if let Some(t) = self.tracer.as_mut() {
                    t.stopped(pid, status);
                }
                continue;
            }
            if let Some(t) = self.tracer.as_mut() {
                if t.exited(pid) {
                    continue; // a thread, not a process
                }
            }
            self.last_status = Some(status);
            if pid == self.main {
                self.main_status = Some(status);
                let left = children(std::process::id() as i32).len();
                if left > 0 {
                    eprintln!(
                        "liftkit-pid1: {} exited ({}) and left {left} process(es) running: \
                         supervising them",
                        self.name,
                        describe(status)
                    );
                }
            }
        }
    }

    /// Passes a signal to every direct child: the service, or the daemons it left behind
    /// (reparented to us). A master process passes it on to its workers itself.
    fn forward(&self, sig: libc::c_int) {
        let mut targets = children(std::process::id() as i32);
        if targets.is_empty() && self.main_status.is_none() {
            targets.push(self.main);
        }
        for pid in targets {
            let _ = sys::kill(pid, sig);
        }
    }
}

fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {}", libc::WEXITSTATUS(status))
    }
}

/// Pids whose parent is `parent`, from /proc (the container's own pid namespace).
fn children(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses; the last ')' ends it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Blocks the forwarded signals and SIGCHLD and returns a signalfd for them. The child gets an
/// empty mask back before it runs the service.
fn signal_fd() -> std::io::Result<libc::c_int> {
    // SAFETY: sigset_t is plain data, initialized by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        sys::check(libc::sigprocmask(
            libc::SIG_BLOCK,
            &set,
            std::ptr::null_mut(),
        ))?;
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        sys::check(fd)?;
        Ok(fd)
    }
}

/// Blocks until at least one signal is pending, then returns every pending one.
fn read_signals(fd: libc::c_int) -> Vec<libc::c_int> {
    let mut out = Vec::new();
    // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: reading into a buffer of exactly `size` bytes.
    let n = unsafe { libc::read(fd, &mut info as *mut _ as *mut libc::c_void, size) };
    if n == size as isize {
        out.push(info.ssi_signo as libc::c_int);
    }
    out
}

/// Forks and execs the service with a clean signal state; with `traced`, the child asks to be
/// traced and stops before exec so the tracer sees the exec and everything after it.
fn spawn(command: &[String], traced: bool) -> std::io::Result<i32> {
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let program = CString::new(std::ffi::OsStr::new(&command[0]).as_bytes()).unwrap_or_default();
    // SAFETY: fork in a single-threaded process; the child only calls async-signal-safe
    // functions (and eprintln on the failure path, before _exit).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // Child.
    // SAFETY: plain libc calls on valid, live arguments.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // Rust ignores SIGPIPE; the service must get the default back, as from any init.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if traced {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
        }
        libc::execvp(program.as_ptr(), ptrs.as_ptr());
        let e = std::io::Error::last_os_error();
        eprintln!("liftkit-pid1: cannot run {}: {e}", command[0]);
        libc::_exit(if e.raw_os_error() == Some(libc::ENOENT) {
            127
        } else {
            126
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parent_of_this_process_is_read_from_proc() {
        let me = std::process::id() as i32;
        // SAFETY: getppid has no arguments.
        let parent = unsafe { libc::getppid() };
        assert_eq!(super::parent_of(me), Some(parent));
        assert!(super::children(parent).contains(&me));
    }
}
