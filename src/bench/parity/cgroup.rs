//! A CPU cgroup of its own for the original, as the engine gives the lifted image one.
//!
//! The scheduler weighs a cgroup as one entity against each task beside it: the lifted app's
//! processes share the weight of the engine's cgroup, while in the root group the original's
//! processes would each weigh as much as a load-loop thread. With the original in a group of the
//! same default weight, both sides meet the load on the same terms. Only the bench's own
//! original is moved, never a process of the host.

use std::path::{Path, PathBuf};

/// A cgroup created for the bench, removed when dropped (once its processes are gone).
#[derive(Debug)]
pub struct Group {
    dir: PathBuf,
}

/// The CPU hierarchy's root: cgroup v1's `cpu` controller, or the unified hierarchy when it
/// hands the `cpu` controller to its children. None where neither holds (no weights at all).
fn cpu_root() -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.shares").exists() {
        return Some(v1.to_path_buf());
    }
    let v2 = Path::new("/sys/fs/cgroup");
    let control = std::fs::read_to_string(v2.join("cgroup.subtree_control")).ok()?;
    control
        .split_whitespace()
        .any(|c| c == "cpu")
        .then(|| v2.to_path_buf())
}

impl Group {
    /// A new group named `name` at the top of the CPU hierarchy, with the default weight.
    pub fn create(name: &str) -> Result<Group, String> {
        let root = cpu_root().ok_or("no cgroup CPU controller to give the original a group")?;
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
        Ok(Group { dir })
    }

    /// Moves each process (all its threads) into the group; its later children follow.
    pub fn adopt(&self, pids: &[i32]) -> Result<(), String> {
        let procs = self.dir.join("cgroup.procs");
        for pid in pids {
            std::fs::write(&procs, pid.to_string())
                .map_err(|e| format!("cannot move pid {pid} into {}: {e}", procs.display()))?;
        }
        Ok(())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // The original has been stopped by now; its last processes may take a moment to exit.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_moved_into_the_group_is_listed_there_and_the_group_goes_with_it() {
        let Ok(group) = super::Group::create(&format!("liftkit-test-{}", std::process::id()))
        else {
            eprintln!("skipped: no CPU cgroup controller here");
            return;
        };
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        group.adopt(&[pid]).unwrap();
        let listed = std::fs::read_to_string(group.dir.join("cgroup.procs")).unwrap();
        assert!(listed.lines().any(|l| l == pid.to_string()), "{listed}");
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let name = group.dir.file_name().unwrap().to_str().unwrap().to_string();
        assert!(own.contains(&name), "{own}");
        child.kill().unwrap();
        child.wait().unwrap();
        let dir = group.dir.clone();
        drop(group);
        assert!(!dir.exists(), "{} removed", dir.display());
    }
}
