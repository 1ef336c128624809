//! Boots a host image (or any VM) under qemu, times it to the app's first answer through the
//! forwarded port, and powers it off with the ACPI button: what `liftkit bench boot` and
//! `liftkit bench footprint` measure.

use crate::analyze::spec::Probe;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BootOptions {
    /// qemu accelerator: `tcg` (software, works everywhere) or `kvm`.
    pub accel: String,
    pub timeout: Duration,
    /// Where the serial log and monitor socket go.
    pub work: PathBuf,
    /// More environment for run-qemu.sh: BOOT, FIRMWARE, MEMORY.
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BootRun {
    /// From starting qemu to the app's first correct answer.
    pub answer_ms: u128,
    /// From pressing the power button to qemu's exit, when it exited cleanly.
    pub power_off_ms: Option<u128>,
    pub clean_shutdown: bool,
    /// MemTotal − MemAvailable (kB) the guest logged when asked to power off, after serving.
    pub used_kb: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("cannot start {0}: {1}")]
    Start(PathBuf, std::io::Error),
    #[error("{what}; last lines of the serial console:\n{tail}")]
    Failed { what: String, tail: String },
    #[error("the plan has no probe liftkit can send through a port (http, or send/expect)")]
    NoProbe,
}

/// How the app is asked: an HTTP GET, or bytes sent and a regex the answer must match.
#[derive(Debug, Clone)]
pub enum Ask {
    Http(String),
    Send(Vec<u8>, regex::Regex),
}

pub fn ask_from(probes: &[Probe]) -> Result<Ask, BootError> {
    for p in probes {
        if let Some(h) = &p.http {
            let path = h.split_whitespace().nth(1).unwrap_or("/").to_string();
            return Ok(Ask::Http(path));
        }
        if let (Some(send), Some(expect)) = (&p.send, &p.expect) {
            let bytes = send.replace("\\r", "\r").replace("\\n", "\n").into_bytes();
            if let Ok(re) = regex::Regex::new(expect) {
                return Ok(Ask::Send(bytes, re));
            }
        }
    }
    Err(BootError::NoProbe)
}

/// One answer, or None while the guest is not serving (qemu accepts first, then drops).
pub fn ask(port: u16, how: &Ask) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    match how {
        Ask::Http(path) => {
            write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
            s.read_to_end(&mut buf).ok()?;
            buf.starts_with(b"HTTP/").then_some(buf)
        }
        Ask::Send(bytes, re) => {
            s.write_all(bytes).ok()?;
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).ok()?;
            buf.extend_from_slice(&chunk[..n]);
            re.is_match(&String::from_utf8_lossy(&buf)).then_some(buf)
        }
    }
}

fn tail(path: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Boots `app_dir`'s host image once (its run-qemu.sh), forwarding `host_port` to the app's
/// `guest_port`.
pub fn boot_once(
    app_dir: &Path,
    how: &Ask,
    host_port: u16,
    guest_port: u16,
    opts: &BootOptions,
) -> Result<BootRun, BootError> {
    let script = app_dir.join("run-qemu.sh");
    boot_with(how, host_port, opts, |monitor| {
        let mut c = Command::new("sh");
        c.arg(&script)
            .env("ACCEL", &opts.accel)
            .env("PORTS", format!("{host_port}:{guest_port}"))
            .env(
                "QEMU_FLAGS",
                format!("-monitor unix:{},server,nowait", monitor.display()),
            );
        for (k, v) in &opts.env {
            c.env(k, v);
        }
        c
    })
}

/// Probes waiting at once: one per 100 ms over a probe's 5 s read timeout.
const MAX_PROBES: usize = 50;

/// Boots the VM `launch` makes (given the monitor socket it must open), waits for the app's
/// first answer on `host_port`, presses the power button and waits for qemu to exit.
pub fn boot_with(
    how: &Ask,
    host_port: u16,
    opts: &BootOptions,
    launch: impl FnOnce(&Path) -> Command,
) -> Result<BootRun, BootError> {
    let serial = opts.work.join("serial.log");
    let monitor = opts.work.join("monitor.sock");
    let _ = std::fs::remove_file(&monitor);
    let log = std::fs::File::create(&serial).map_err(|e| BootError::Start(serial.clone(), e))?;
    let mut cmd = launch(&monitor);
    let program = PathBuf::from(cmd.get_program());
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BootError::Start(program, e))?;
    let mut qemu = Qemu(child);
    // qemu's user network accepts on the forwarded port before the guest listens, and a probe
    // then waits out its read timeout (5 s): asked one after another, the answer would be seen up
    // to 5 s late. A new probe starts every 100 ms instead, each in its own thread, and the
    // first answer's time counts.
    let (answered, answers) = std::sync::mpsc::channel::<Instant>();
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answer = loop {
        if let Ok(at) = answers.try_recv() {
            break at.duration_since(started);
        }
        if in_flight.load(std::sync::atomic::Ordering::SeqCst) < MAX_PROBES {
            let (how, answered, in_flight) = (how.clone(), answered.clone(), in_flight.clone());
            in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                if ask(host_port, &how).is_some() {
                    let _ = answered.send(Instant::now());
                }
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        if let Ok(Some(status)) = qemu.0.try_wait() {
            return Err(BootError::Failed {
                what: format!("qemu exited ({status}) before the app answered"),
                tail: tail(&serial),
            });
        }
        if started.elapsed() > opts.timeout {
            return Err(BootError::Failed {
                what: format!("no answer within {}s", opts.timeout.as_secs()),
                tail: tail(&serial),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let pressed = Instant::now();
    // The monitor connection stays open until qemu exits: qemu drops commands of a closed one.
    let monitor = UnixStream::connect(&monitor)
        .and_then(|mut m| m.write_all(b"system_powerdown\n").map(|_| m));
    let mut power_off = None;
    while monitor.is_ok() && pressed.elapsed() < Duration::from_secs(90) {
        if let Ok(Some(status)) = qemu.0.try_wait() {
            power_off = status.success().then(|| pressed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let console = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
    Ok(BootRun {
        answer_ms: answer.as_millis(),
        power_off_ms: power_off.map(|d| d.as_millis()),
        clean_shutdown: console.contains("reboot: Power down"),
        used_kb: used_kb(&console),
    })
}

/// The last `memory: used N kB` line of a console log (liftkit-init's, or the Debian VM's unit).
pub fn used_kb(console: &str) -> Option<u64> {
    console.lines().rev().find_map(|l| {
        let rest = &l[l.find("memory: used ")? + "memory: used ".len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_logged_memory_use() {
        let log =
            "x\nliftkit-init: [  9.1] memory: used 23456 kB (MemTotal 1 kB - MemAvailable 0 kB)\n";
        assert_eq!(super::used_kb(log), Some(23456));
        assert_eq!(super::used_kb("nothing"), None);
    }
}
