//! What a process tree costs, read from /proc on this host (a container's processes are
//! visible here too): CPU time including the children it reaped (a PostgreSQL backend ends
//! with its connection; its time lands in the postmaster's `cutime`), and resident memory
//! (RSS, and PSS, which shares a forked worker's pages fairly), sampled under load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The process and every descendant, by parent links in /proc.
pub fn tree(root: i32) -> Vec<i32> {
    let all: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter_map(|pid: i32| Some((pid, stat_field(pid, 1)? as i32)))
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// Field `n` after the command name of /proc/PID/stat (0 = state, 1 = ppid, …).
fn stat_field(pid: i32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(n)?.parse().ok()
}

/// CPU seconds of the tree so far: user + system, with what each reaped.
pub fn cpu_seconds(root: i32) -> f64 {
    // SAFETY: sysconf has no side effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    tree(root)
        .iter()
        .map(|p| (11..=14).filter_map(|f| stat_field(*p, f)).sum::<u64>())
        .sum::<u64>() as f64
        / ticks
}

/// RSS and PSS of the tree, in bytes.
pub fn memory(root: i32) -> (u64, u64) {
    let kib = |pid: i32, file: &str, key: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with(key))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    tree(root).iter().fold((0, 0), |(rss, pss), p| {
        (
            rss + kib(*p, "status", "VmRSS:") * 1024,
            pss + kib(*p, "smaps_rollup", "Pss:") * 1024,
        )
    })
}

/// Samples the tree's memory every 100 ms until dropped; `peak()` is the largest seen.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl Sampler {
    pub fn start(root: i32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = memory(root);
            while !flag.load(Ordering::Relaxed) {
                let m = memory(root);
                peak = (peak.0.max(m.0), peak.1.max(m.1));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Sampler {
            stop,
            handle: Some(handle),
        }
    }

    /// Peak (RSS, PSS) in bytes.
    pub fn peak(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_tree_cpu_time_and_memory() {
        let me = std::process::id() as i32;
        assert_eq!(super::tree(me)[0], me);
        assert!(super::cpu_seconds(me) >= 0.0);
        let (rss, pss) = super::memory(me);
        assert!(rss > 0 && pss > 0 && pss <= rss * 2);
    }
}
