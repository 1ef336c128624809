//! A child process timed and weighed: wall time and peak resident memory (the kernel's
//! `ru_maxrss` of the reaped child, which covers the children it waited for, so a shell running
//! several tools one after another reports the largest of them).

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
    // stderr is read before the wait, so a chatty child never blocks on a full pipe.
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = t.elapsed().as_secs_f64();
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
        max_rss_kib: usage.ru_maxrss as u64,
    })
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
        assert!(m.max_rss_kib > 0);
        let e = run(Command::new("sh").args(["-c", "echo no >&2; exit 3"]), &[0]).unwrap_err();
        assert!(
            e.to_string().contains("failed") && e.to_string().contains("no"),
            "{e}"
        );
    }
}
