//! Legacy services started the way old servers run them: their own config file, daemonized (or
//! backgrounded), data in their own directory, a free loopback port, the clean environment an
//! init system gives. One module per service: how to start it, and its probe (an answer that
//! must be the same from the original and from its lifted image).
//!
//! Used by the integration tests (one test per service) and by `liftkit bench generic`; neither
//! needs anything but the service's Debian packages. Starting a service writes only under the
//! directory given (and, for the vendor daemon, its /opt and /etc trees, removed on drop).

mod apache;
mod caddy;
mod dns;
mod dnsmasq;
mod gunicorn;
mod haproxy;
mod lift;
mod lighttpd;
mod mariadb;
mod memcached;
mod mosquitto;
mod named;
pub mod nginx;
mod node;
mod perl;
mod php;
pub mod postgres;
mod python;
pub mod redis;
mod ruby;
mod squid;
mod sshd;
mod tinyproxy;
mod tomcat;
pub mod vendor;

pub use lift::{app_dir, lift_and_compare, Lifted, LiftedError, Request};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error("{service}: {what}")]
    Start { service: String, what: String },
    #[error("{0}: not installed (apt-get install {1})")]
    Missing(String, String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One service of the corpus.
pub struct Service {
    pub name: &'static str,
    /// The program that must be installed, and the Debian packages that bring it.
    pub needs: (&'static str, &'static str),
    /// Which of the generic path's causes it exercises (issue 11's numbering), for the table.
    pub covers: &'static str,
    /// Whether an analyzer knows it (the six taught stacks): the corpus is the others.
    pub analyzed: bool,
    /// Started by an init script of its own, as legacy hosts start it: the script and its
    /// defaults are written under `DIR/etc/init.d` and `DIR/etc/default`, which the start and
    /// the lift see at `/etc/init.d` and `/etc/default` in a private mount namespace
    /// ([`private_etc`]): the machine's own /etc is never touched.
    pub init_script: bool,
    pub start: fn(&Path, u16) -> Result<Running, TestbedError>,
}

impl Service {
    /// A service of the corpus: no analyzer knows it, and it starts without an init script.
    pub const fn corpus(
        name: &'static str,
        needs: (&'static str, &'static str),
        covers: &'static str,
        start: fn(&Path, u16) -> Result<Running, TestbedError>,
    ) -> Self {
        Service {
            name,
            needs,
            covers,
            analyzed: false,
            init_script: false,
            start,
        }
    }
}

/// The corpus: services and runtimes no analyzer knows, then the analyzed stacks the generic
/// path must also lift.
pub const SERVICES: &[Service] = &[
    memcached::SERVICE,
    lighttpd::SERVICE,
    dnsmasq::SERVICE,
    tinyproxy::SERVICE,
    squid::SERVICE,
    haproxy::SERVICE,
    mosquitto::SERVICE,
    sshd::SERVICE,
    mariadb::SERVICE,
    named::SERVICE,
    node::SERVICE,
    perl::SERVICE,
    ruby::SERVICE,
    php::SERVICE,
    caddy::SERVICE,
    vendor::SERVICE,
    python::SERVICE,
    nginx::SERVICE,
    redis::SERVICE,
    postgres::SERVICE,
    apache::SERVICE,
    gunicorn::SERVICE,
    tomcat::SERVICE,
];

/// Moves the calling thread into a mount namespace of its own (children it starts inherit it),
/// `/` made private so nothing propagates back, with `dir/etc/init.d` and `dir/etc/default`
/// bound over `/etc/init.d` and `/etc/default`. Unsharing the mount namespace unshares only
/// this thread's file-system context, which a multi-threaded process may do.
pub fn private_etc(dir: &Path) -> Result<(), TestbedError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let failed = |what: String| TestbedError::Start {
        service: "private /etc".to_string(),
        what: format!("{what}: {}", std::io::Error::last_os_error()),
    };
    // SAFETY: unshare and mount with valid NUL-terminated strings and null optional arguments.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(failed("unshare(CLONE_NEWNS)".into()));
        }
        let root = CString::new("/").expect("no NUL");
        let flags = libc::MS_REC | libc::MS_PRIVATE;
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        ) != 0
        {
            return Err(failed("making / private".into()));
        }
        for sub in ["init.d", "default"] {
            let from = dir.join("etc").join(sub);
            std::fs::create_dir_all(&from).map_err(io(&from))?;
            let f = CString::new(from.as_os_str().as_bytes()).map_err(|_| failed("path".into()))?;
            let to = CString::new(format!("/etc/{sub}")).expect("no NUL");
            if libc::mount(
                f.as_ptr(),
                to.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(failed(format!(
                    "binding {} over /etc/{sub}",
                    from.display()
                )));
            }
        }
    }
    Ok(())
}

pub fn service(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}

/// A started service; dropping it stops it and removes what it installed outside its directory.
pub struct Running {
    pub service: &'static str,
    /// The process to lift (the one that listens).
    pub pid: i32,
    pub port: u16,
    pub probe: fn(u16) -> Result<String, String>,
    /// Extra paths to remove on drop (a vendor tree under /opt).
    pub installed: Vec<PathBuf>,
    stopped: bool,
}

impl Running {
    pub fn new(
        service: &'static str,
        pid: i32,
        port: u16,
        probe: fn(u16) -> Result<String, String>,
    ) -> Running {
        Running {
            service,
            pid,
            port,
            probe,
            installed: Vec::new(),
            stopped: false,
        }
    }

    /// The service's answer (its own protocol).
    pub fn probe(&self) -> Result<String, String> {
        (self.probe)(self.port)
    }

    /// Stops the original (SIGTERM to the listening process and its process group's daemons),
    /// waiting until its port is closed.
    pub fn stop(&mut self) -> bool {
        if !self.stopped {
            self.stopped = true;
            kill_tree(self.pid);
        }
        wait_closed(self.port, Duration::from_secs(15))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
        for p in &self.installed {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// SIGTERM to a process and to every descendant of it, then SIGKILL to what is left.
fn kill_tree(pid: i32) {
    if pid <= 0 {
        return; // never a process group or every process
    }
    let mut all = vec![pid];
    all.extend(descendants(pid));
    for p in &all {
        // SAFETY: kill(2) with a pid we started and a plain signal.
        unsafe { libc::kill(*p, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && all.iter().any(|p| alive(*p)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in all.iter().filter(|p| alive(**p)) {
        // SAFETY: as above.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn descendants(pid: i32) -> Vec<i32> {
    let pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for c in pids.iter().filter(|c| parent_of(**c) == Some(p)) {
            out.push(*c);
            frontier.push(*c);
        }
    }
    out
}

/// A daemon's command with the clean environment an init system gives, not the caller's.
pub fn daemon_command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    c
}

/// How a starter runs its daemon: as an init script would, or under `strace -f`, which writes
/// every file the daemon and its children touch to a trace (the size benchmark's reference).
pub enum Launch {
    Direct,
    Traced(PathBuf),
}

impl Launch {
    pub fn command(&self, program: &str) -> Command {
        match self {
            Launch::Direct => daemon_command(program),
            Launch::Traced(trace) => {
                let mut c = daemon_command("strace");
                c.args(["-f", "-qq", "-s", "512", "-e", "trace=%file,execve", "-o"])
                    .arg(trace)
                    .arg(program);
                c
            }
        }
    }

    /// Runs a starter that daemonizes. strace stays until its last tracee exits, so a traced
    /// starter is left running (reaped by a thread) and the caller waits for the port.
    pub fn run(&self, service: &str, cmd: &mut Command) -> Result<(), TestbedError> {
        match self {
            Launch::Direct => run(service, cmd),
            Launch::Traced(_) => {
                let child = cmd.spawn().map_err(|e| TestbedError::Start {
                    service: service.to_string(),
                    what: format!("cannot start {cmd:?}: {e}"),
                })?;
                reap(child);
                Ok(())
            }
        }
    }
}

/// The child is reaped by a thread so it never lingers as a zombie of ours.
fn reap(child: std::process::Child) {
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
}

/// Runs a starter command that daemonizes (returns once the daemon is forked).
fn run(service: &str, cmd: &mut Command) -> Result<(), TestbedError> {
    let out = cmd.output().map_err(|e| TestbedError::Start {
        service: service.to_string(),
        what: format!("cannot run {cmd:?}: {e}"),
    })?;
    if !out.status.success() {
        return Err(TestbedError::Start {
            service: service.to_string(),
            what: format!(
                "{cmd:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(())
}

/// Starts a program that stays in the foreground, detached from us as a legacy `nohup … &`
/// would leave it (its own session, output to a log file in `dir`).
fn spawn_background(service: &str, cmd: &mut Command, log: &Path) -> Result<i32, TestbedError> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::create(log).map_err(io(log))?;
    let err = file.try_clone().map_err(io(log))?;
    // SAFETY: setsid in the child before exec, as a daemon's start script does.
    let child = unsafe {
        cmd.stdout(file).stderr(err).pre_exec(|| {
            libc::setsid();
            Ok(())
        })
    }
    .spawn()
    .map_err(|e| TestbedError::Start {
        service: service.to_string(),
        what: format!("cannot start {cmd:?}: {e}"),
    })?;
    let pid = child.id() as i32;
    reap(child);
    Ok(pid)
}

pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TestbedError + '_ {
    move |source| TestbedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn write(path: &Path, text: &str) -> Result<(), TestbedError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

pub fn set_mode(path: &Path, mode: u32) -> Result<(), TestbedError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

pub fn chown(path: &Path, user: &str) -> Result<(), TestbedError> {
    let (uid, gid) = ids(user).ok_or_else(|| TestbedError::Start {
        service: user.to_string(),
        what: format!("no user {user} on this machine"),
    })?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(path))
}

/// uid and gid of a user, from /etc/passwd.
pub fn ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

pub fn require(service: &Service) -> Result<(), TestbedError> {
    let (program, packages) = service.needs;
    if Path::new(program).exists() {
        Ok(())
    } else {
        Err(TestbedError::Missing(
            program.to_string(),
            packages.to_string(),
        ))
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub fn wait_closed(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn wait_listening(service: &str, port: u16, log: &Path) -> Result<(), TestbedError> {
    if wait_port(port, Duration::from_secs(30)) {
        return Ok(());
    }
    Err(TestbedError::Start {
        service: service.to_string(),
        what: format!(
            "nothing listens on 127.0.0.1:{port} after 30 s; {}: {}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default().trim()
        ),
    })
}

/// The pid of the process listening on a loopback TCP port, from /proc/net/tcp and the fds.
pub fn listener_pid(port: u16) -> Option<i32> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let local_port = f.get(1)?.rsplit(':').next()?;
                    (u16::from_str_radix(local_port, 16).ok()? == port && f.get(3)? == &"0A")
                        .then(|| f.get(9).map(|s| s.to_string()))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort();
    pids.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| {
                    let l = l.to_string_lossy();
                    inodes.iter().any(|i| l == format!("socket:[{i}]"))
                })
            })
        })
    })
}

fn started(
    service: &'static str,
    port: u16,
    probe: fn(u16) -> Result<String, String>,
    log: &Path,
) -> Result<Running, TestbedError> {
    wait_listening(service, port, log)?;
    let pid = listener_pid(port).ok_or_else(|| TestbedError::Start {
        service: service.to_string(),
        what: format!("no process found listening on port {port}"),
    })?;
    Ok(Running::new(service, pid, port, probe))
}

/// Sends `request` and reads the answer until the peer closes or `until` appears.
pub fn exchange(port: u16, request: &[u8], until: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(request).map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if until.is_some_and(|u| answer.windows(u.len()).any(|w| w == u)) {
                    break;
                }
            }
            Err(e) if answer.is_empty() => return Err(format!("read: {e}")),
            Err(_) => break,
        }
        if answer.len() > 1 << 20 {
            break;
        }
    }
    Ok(answer)
}

/// `GET path` over HTTP/1.0: "status body", the volatile headers (Date, ETag) left out.
pub fn http_get(port: u16, path: &str) -> Result<String, String> {
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let resp = exchange(port, req.as_bytes(), None)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header in the answer")?;
    let head = String::from_utf8_lossy(&resp[..split]);
    let status = head.split_whitespace().nth(1).unwrap_or("?").to_string();
    Ok(format!(
        "{status} {}",
        String::from_utf8_lossy(&resp[split + 4..]).trim_end()
    ))
}
