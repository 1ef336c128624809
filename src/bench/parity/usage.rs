//! What a process tree costs, read from /proc on this host (a container's processes are
//! visible here too): CPU time including the children it reaped (a PostgreSQL backend ends
//! with its connection; its time lands in the postmaster's `cutime`), and resident memory
//! (RSS, and PSS, which shares a forked worker's pages fairly, with its anonymous part: the
//! heap and stacks, which no copy of a library inflates), sampled under load.

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
pub(super) fn stat_field(pid: i32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split_whitespace().nth(n)?.parse().ok()
}

/// CPU seconds of these processes so far: user + system, with what each reaped.
pub fn cpu_seconds_of(pids: &[i32]) -> f64 {
    // SAFETY: sysconf has no side effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    pids.iter()
        .map(|p| (11..=14).filter_map(|f| stat_field(*p, f)).sum::<u64>())
        .sum::<u64>() as f64
        / ticks
}

/// Resident memory of a process tree, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub pss: u64,
    /// PSS of anonymous pages only: what the program allocated, not the files it maps (a
    /// library copied into an image is a file of its own, mapped by the kernel in 64 KiB runs
    /// of whatever the page cache holds, and the engine has just written all of it).
    pub pss_anon: u64,
}

impl Memory {
    fn max(self, o: Memory) -> Memory {
        Memory {
            rss: self.rss.max(o.rss),
            pss: self.pss.max(o.pss),
            pss_anon: self.pss_anon.max(o.pss_anon),
        }
    }
}

/// RSS, PSS and anonymous PSS of the tree.
pub fn memory(root: i32) -> Memory {
    tree(root)
        .iter()
        .map(|p| own_memory(*p))
        .fold(Memory::default(), |m, p| Memory {
            rss: m.rss + p.rss,
            pss: m.pss + p.pss,
            pss_anon: m.pss_anon + p.pss_anon,
        })
}

/// RSS, PSS and anonymous PSS of one process, without its children.
pub fn own_memory(pid: i32) -> Memory {
    let read =
        |file: &str| std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    // smaps_rollup walks every mapping of the process: read once per sample for both keys.
    let rollup = read("smaps_rollup");
    Memory {
        rss: kib_field(&read("status"), "VmRSS:") * 1024,
        pss: kib_field(&rollup, "Pss:") * 1024,
        pss_anon: kib_field(&rollup, "Pss_Anon:") * 1024,
    }
}

/// The KiB figure of the line starting with `key` (`VmRSS:    5820 kB`); 0 when absent.
fn kib_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Samples the tree's memory every 100 ms until dropped; `peak()` is the largest seen.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Memory>>,
}

impl Sampler {
    pub fn start(root: i32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = memory(root);
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(memory(root));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Sampler {
            stop,
            handle: Some(handle),
        }
    }

    /// The largest of each figure seen.
    pub fn peak(mut self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_tree_cpu_time_and_memory() {
        let me = std::process::id() as i32;
        assert_eq!(super::tree(me)[0], me);
        // A busy loop of 50 ms on this thread: the clock ticks (10 ms each) show it.
        let before = super::cpu_seconds_of(&[me]);
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(super::cpu_seconds_of(&[me]) > before, "no CPU counted");
        let m = super::memory(me);
        assert!(m.rss > 0 && m.pss > 0 && m.pss <= m.rss * 2, "{m:?}");
        assert!(m.pss_anon > 0 && m.pss_anon <= m.pss, "{m:?}");
    }
}
