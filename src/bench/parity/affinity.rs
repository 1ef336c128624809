//! CPU pinning for the parity runs: the server under test (original or lifted, every thread of
//! its process tree) on one CPU, the load loop's clients on the others.
//!
//! On a 2-core machine an unpinned server and its load loop trade CPUs with each other and with
//! the engine's helpers from one millisecond to the next, and that migration moves throughput by
//! more than the 5% the comparison is after. Pinned, each side meets the same single CPU, the
//! same way, in every round. Only the bench's own processes are pinned, never a host's.

/// The CPU the server runs on, and the CPUs left for the load; None on a machine with one CPU
/// (nothing to separate).
pub fn split() -> Option<(usize, Vec<usize>)> {
    let mut cpus = allowed()?;
    if cpus.len() < 2 {
        return None;
    }
    let server = cpus.pop()?;
    Some((server, cpus))
}

/// The CPUs this process may run on.
fn allowed() -> Option<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it for pid 0 (us).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return None;
    }
    let cpus = (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    Some(cpus)
}

/// Restricts thread `tid` (0: the calling thread) to `cpus`.
pub fn pin(tid: i32, cpus: &[usize]) -> Result<(), String> {
    // SAFETY: as in `allowed`; CPU_SET only writes inside the set for c < CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_setaffinity(tid, size, &set) } != 0 {
        return Err(format!(
            "cannot pin thread {tid} to CPUs {cpus:?}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Pins every thread of every process in `pids` to `cpu`; their later children inherit it. A
/// thread that exits meanwhile is skipped.
pub fn pin_processes(pids: &[i32], cpu: usize) -> Result<(), String> {
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for tid in tasks
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
        {
            if let Err(e) = pin(tid, &[cpu]) {
                if std::path::Path::new(&format!("/proc/{pid}/task/{tid}")).exists() {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// What serves on the server's CPU: the server's process tree, and for a container the engine's
/// monitor above it (podman's conmon), which reads the app's stdout and stderr, so a lifted
/// app's log lines cost CPU where the original's, written by the app itself, do.
pub fn serving(root: i32) -> Vec<i32> {
    let mut pids = super::usage::tree(root);
    let parent = super::usage::stat_field(root, 1).and_then(|p| i32::try_from(p).ok());
    if let Some(ppid) = parent {
        let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap_or_default();
        if comm.trim() == "conmon" {
            pids.push(ppid);
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pinned_child_runs_only_on_its_cpu_and_so_does_its_child() {
        let Some((server, _)) = super::split() else {
            eprintln!("skipped: one CPU here");
            return;
        };
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.3; sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        super::pin_processes(&[pid], server).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(800));
        let allowed = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Cpus_allowed_list:")
                        .map(|v| v.trim().to_string())
                })
                .unwrap()
        };
        assert_eq!(allowed(pid), server.to_string());
        let grandchild = crate::bench::parity::usage::tree(pid)[1..].to_vec();
        assert!(!grandchild.is_empty(), "sh started its sleep");
        assert_eq!(allowed(grandchild[0]), server.to_string());
        child.kill().unwrap();
        child.wait().unwrap();
        for p in grandchild {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}
