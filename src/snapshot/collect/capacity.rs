//! What the host has to give: its memory and the disks its filesystems sit on, so what an app
//! takes once lifted can be set against the machine it leaves.

use super::read_host_text_or_note;
use crate::findings::Finding;
use crate::snapshot::{Capacity, Filesystem};
use std::ffi::CString;

pub fn read(findings: &mut Vec<Finding>) -> Capacity {
    let memory_kib = read_host_text_or_note("/proc/meminfo", findings)
        .and_then(|t| meminfo_kib(&t, "MemTotal:"))
        .unwrap_or(0);
    let filesystems = read_host_text_or_note("/proc/self/mounts", findings)
        .map(|t| block_mounts(&t))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(device, mount)| usage(&device, &mount))
        .collect();
    Capacity {
        memory_kib,
        filesystems,
    }
}

/// A powered-off machine's disk, mounted at `root`: its filesystem, and no memory (0: unknown).
pub fn of_mounted(disk: &str, root: &std::path::Path) -> Capacity {
    Capacity {
        memory_kib: 0,
        filesystems: usage(disk, &root.to_string_lossy()).into_iter().collect(),
    }
}

fn meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (device, first mount point) of every filesystem on a block device, in mount order: a device
/// mounted in several places (bind mounts) is one disk.
fn block_mounts(mounts: &str) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(device), Some(mount)) = (f.next(), f.next()) else {
            continue;
        };
        if device.starts_with("/dev/") && !seen.iter().any(|(d, _)| d == device) {
            // /proc/self/mounts escapes spaces and tabs as octal.
            let mount = mount.replace("\\040", " ").replace("\\011", "\t");
            seen.push((device.to_string(), mount));
        }
    }
    seen
}

fn usage(device: &str, mount: &str) -> Option<Filesystem> {
    let path = CString::new(mount).ok()?;
    // SAFETY: statvfs is plain data (all-zero is valid) and the kernel fills it on success; the
    // path is a NUL-terminated string that outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let block = st.f_frsize as u64;
    Some(Filesystem {
        device: device.to_string(),
        mount: mount.to_string(),
        size_bytes: st.f_blocks as u64 * block,
        used_bytes: (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_block_device() {
        let mounts = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n\
                      tmpfs /run tmpfs rw 0 0\n/dev/vda /run/netns ext4 rw 0 0\n\
                      /dev/vdb1 /srv/my\\040data xfs rw 0 0\n";
        assert_eq!(
            block_mounts(mounts),
            vec![
                ("/dev/vda".to_string(), "/".to_string()),
                ("/dev/vdb1".to_string(), "/srv/my data".to_string())
            ]
        );
        assert_eq!(
            meminfo_kib("MemTotal:  2048 kB\nMemFree: 1 kB\n", "MemTotal:"),
            Some(2048)
        );
    }
}
