//! The host's filesystems: the kernel's own, tmpfs where the read-only root must be written, the
//! data disk holding the volumes, and the app's overlay root.

use crate::{log, sys, warn};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

pub const VOLUMES_DIR: &str = "/var/lib/liftkit";

/// proc, sys, dev, devpts, shm, cgroup2 and tmpfs on /run, /tmp and /var, then `/` read-only.
pub fn early() -> io::Result<()> {
    let nosuid_nodev_noexec = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let table: [(&str, &str, &str, libc::c_ulong, &str); 10] = [
        ("proc", "/proc", "proc", nosuid_nodev_noexec, ""),
        ("sysfs", "/sys", "sysfs", nosuid_nodev_noexec, ""),
        ("devtmpfs", "/dev", "devtmpfs", libc::MS_NOSUID, "mode=0755"),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            "gid=5,mode=0620,ptmxmode=0666",
        ),
        (
            "shm",
            "/dev/shm",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=1777",
        ),
        ("mqueue", "/dev/mqueue", "mqueue", nosuid_nodev_noexec, ""),
        (
            "cgroup2",
            "/sys/fs/cgroup",
            "cgroup2",
            nosuid_nodev_noexec,
            "",
        ),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=0755",
        ),
        (
            "tmpfs",
            "/tmp",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=1777",
        ),
        (
            "tmpfs",
            "/var",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=0755",
        ),
    ];
    for (source, target, fstype, flags, data) in table {
        // The root is still writable here; later mount points are on fresh kernel filesystems.
        let _ = std::fs::create_dir_all(target);
        sys::mount(source, target, fstype, flags, data)
            .map_err(|e| io::Error::new(e.kind(), format!("mount {fstype} on {target}: {e}")))?;
    }
    // Immutable host: only the tmpfs mounts above and the data disk take writes.
    sys::mount("", "/", "", libc::MS_REMOUNT | libc::MS_RDONLY, "")
        .map_err(|e| io::Error::new(e.kind(), format!("remount / read-only: {e}")))
}

/// The label `host-image` gives the data disk (mkfs.ext4 -L).
pub const DATA_LABEL: &str = "liftkit-data";

/// Mounts the data disk on /var/lib/liftkit, or a tmpfs when there is none (data then does not
/// outlive the VM: said loudly when the app has volumes). The disk is `liftkit.data=DEV` or
/// `liftkit.data=LABEL=NAME`; without either, the disk labelled liftkit-data when the app has
/// volumes.
pub fn volumes(given: Option<&str>, wanted: bool) -> io::Result<()> {
    std::fs::create_dir_all(VOLUMES_DIR)?;
    let label = match given {
        Some(g) => g.strip_prefix("LABEL=").map(str::to_string),
        None if wanted => Some(DATA_LABEL.to_string()),
        None => None,
    };
    let disk = match (&label, given) {
        (Some(l), _) => crate::blockdev::find(2048, Duration::from_secs(10), |head| {
            crate::blockdev::ext4_label(head).as_deref() == Some(l.as_str())
        }),
        (None, Some(dev)) => wait_for(dev, Duration::from_secs(10)).then(|| dev.to_string()),
        (None, None) => None,
    };
    let Some(disk) = disk else {
        if wanted {
            let what = label.map_or_else(
                || given.unwrap_or_default().to_string(),
                |l| format!("a disk labelled {l}"),
            );
            warn(&format!(
                "no data disk ({what} not found): volumes are on tmpfs and lost at power-off"
            ));
        }
        return sys::mount(
            "tmpfs",
            VOLUMES_DIR,
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=0755",
        );
    };
    sys::mount(&disk, VOLUMES_DIR, "ext4", libc::MS_NOATIME, "").map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("mount {disk} (ext4) on {VOLUMES_DIR}: {e}"),
        )
    })?;
    log(&format!("volumes on {disk}"));
    Ok(())
}

fn wait_for(dev: &str, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while !Path::new(dev).exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The app's root: its read-only layer under a tmpfs upper layer, like a container engine's.
pub fn overlay_root(bundle: &Path, name: &str) -> io::Result<()> {
    let state = Path::new("/run/liftkit").join(name);
    let (upper, work) = (state.join("upper"), state.join("work"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        bundle.join("lower").display(),
        upper.display(),
        work.display()
    );
    sys::mount("overlay", bundle.join("rootfs"), "overlay", 0, &data)
        .map_err(|e| io::Error::new(e.kind(), format!("overlay root of {name}: {e}")))
}

/// Unmounts everything but the kernel filesystems, deepest first, so the data disk is clean.
pub fn unmount_all() {
    let Ok(text) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let keep = ["/", "/proc", "/sys", "/dev", "/dev/pts", "/sys/fs/cgroup"];
    let mut targets: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|t| t.replace("\\040", " "))
        .filter(|t| !keep.contains(&t.as_str()))
        .collect();
    targets.reverse();
    for t in targets {
        if let Err(e) = sys::umount(&t, 0) {
            // Busy: detach it and at least make the data disk read-only so it is consistent.
            let _ = sys::mount("", &t, "", libc::MS_REMOUNT | libc::MS_RDONLY, "");
            let _ = sys::umount(&t, libc::MNT_DETACH);
            if t == VOLUMES_DIR {
                warn(&format!(
                    "unmount {t}: {e}; remounted read-only and detached"
                ));
            }
        }
    }
}
