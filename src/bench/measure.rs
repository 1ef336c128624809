//! A child process timed and weighed: wall time and peak resident memory.
//!
//! The peak is the child's own `VmHWM` (its address space's high-water mark), sampled from
//! `/proc/PID/status` while it runs and read last once it has exited but is not yet reaped.
//! Not `ru_maxrss`: Linux carries the parent's high-water mark into a child forked (or
//! vforked, as `posix_spawn` does) from it, so every child of a 100 MB test binary "peaked" at
//! 100 MB. The child's descendants are sampled too: a shell running several tools, or a
//! pipeline, reports the largest of its processes, as `ru_maxrss` of children meant to.

use super::BenchError;
use serde::Serialize;
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, PartialOrd)]
pub struct Measured {
    pub seconds: f64,
    /// Peak resident set, KiB.
    pub max_rss_kib: u64,
}

/// Runs `cmd` to completion with its output discarded; an exit status not in `ok` is an error
/// naming the command (a benchmark of a failed run measures nothing).
// The child is reaped by wait4 (for its rusage), which std's Child does not know about.
#[allow(clippy::zombie_processes)]
pub fn run(cmd: &mut Command, ok: &[i32]) -> Result<Measured, BenchError> {
    let what = format!("{cmd:?}");
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Failed(format!("cannot run {what}: {e}")))?;
    let pid = child.id() as libc::pid_t;
    let peak = HighWater::watch(pid);
    // stderr is read before the wait, so a chatty child never blocks on a full pipe.
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    exited(pid);
    let seconds = t.elapsed().as_secs_f64();
    let max_rss_kib = peak.finish();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        return Err(BenchError::Failed(format!(
            "{what}: wait4: {}",
            std::io::Error::last_os_error()
        )));
    }
    if !(libc::WIFEXITED(status) && ok.contains(&libc::WEXITSTATUS(status))) {
        return Err(BenchError::Failed(format!(
            "{what} failed (wait status {status}): {}",
            stderr.trim()
        )));
    }
    Ok(Measured {
        seconds,
        max_rss_kib,
    })
}

/// Waits until child `pid` has exited, leaving it unreaped (a zombie whose pid nobody else
/// can take), so a last look at it names it and not a newcomer.
pub fn exited(pid: libc::pid_t) {
    // SAFETY: zeroed siginfo is a valid out-parameter; WNOWAIT leaves the child to wait4.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// The high-water mark of a running process's resident memory, sampled every few
/// milliseconds (a peak shorter than that between two samples can be missed).
pub struct HighWater {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl HighWater {
    pub fn watch(pid: libc::pid_t) -> HighWater {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let seen = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                // VmHWM only grows while a process lives; it is gone once it exits.
                for p in tree(pid) {
                    peak = peak.max(vm_hwm_kib(p).unwrap_or(0));
                }
                if seen.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        HighWater { stop, thread }
    }

    /// The peak in KiB; call once the process has exited (and before it is reaped).
    pub fn finish(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// `pid` and its descendants, through each thread's `children` list.
fn tree(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() && all.len() < 4096 {
        let p = all[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<libc::pid_t>().ok()),
            );
        }
    }
    all
}

fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `runs` measurements of the same command (a fresh one each time), and their medians.
pub fn repeat(
    runs: usize,
    ok: &[i32],
    mut cmd: impl FnMut() -> Command,
) -> Result<(Vec<Measured>, Measured), BenchError> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        all.push(run(&mut cmd(), ok)?);
    }
    let seconds: Vec<f64> = all.iter().map(|m| m.seconds).collect();
    let rss: Vec<u64> = all.iter().map(|m| m.max_rss_kib).collect();
    let median = Measured {
        seconds: super::median(&seconds),
        max_rss_kib: super::median(&rss),
    };
    Ok((all, median))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_timed_and_weighed_and_a_failure_named() {
        let m = run(Command::new("sh").args(["-c", "exit 1"]), &[0, 1]).unwrap();
        assert!(m.seconds > 0.0);
        // A shell is a few MB, whatever the size of the process that started it.
        let _ballast = vec![1u8; 64 << 20];
        let small = run(Command::new("sleep").arg("0.2"), &[0]).unwrap();
        assert!(
            small.max_rss_kib > 0 && small.max_rss_kib < 32 << 10,
            "{small:?}"
        );
        let big = run(
            Command::new("python3").args([
                "-c",
                "import time; b = bytearray(96 << 20); time.sleep(0.3)",
            ]),
            &[0],
        )
        .unwrap();
        assert!(big.max_rss_kib > 96 << 10, "{big:?}");
        let through_a_shell = run(
            Command::new("sh").args([
                "-c",
                "true; python3 -c 'import time; b = bytearray(96 << 20); time.sleep(0.3)'; true",
            ]),
            &[0],
        )
        .unwrap();
        assert!(
            through_a_shell.max_rss_kib > 96 << 10,
            "{through_a_shell:?}"
        );
        let e = run(Command::new("sh").args(["-c", "echo no >&2; exit 3"]), &[0]).unwrap_err();
        assert!(
            e.to_string().contains("failed") && e.to_string().contains("no"),
            "{e}"
        );
    }
}
