//! A disk that a running VM is using is not a powered-off disk: its blocks change under the
//! reader, and what liftkit would lift is no consistent state. Three signs are checked: QEMU's
//! write lock on the image, a process holding it open for writing, and the file changing while
//! it is read.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// QEMU takes byte locks on its images: byte 100 + n is held while it holds permission n, and
/// permission 1 is WRITE (`raw-posix`'s `RAW_LOCK_PERM_BASE`).
const QEMU_WRITE_LOCK_BYTE: i64 = 101;

/// What makes the disk look in use, or None.
pub fn in_use(path: &Path, file: &File) -> Option<String> {
    if let Some(pid) = write_locked(file) {
        return Some(format!(
            "QEMU's write lock is held on it (pid {pid}): a running VM is using it"
        ));
    }
    writers(path, file)
}

fn write_locked(file: &File) -> Option<i32> {
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    fl.l_start = QEMU_WRITE_LOCK_BYTE;
    fl.l_len = 1;
    // F_OFD_GETLK only asks: it takes no lock and leaves the file as it is.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    (rc == 0 && fl.l_type != libc::F_UNLCK as i16).then_some(fl.l_pid)
}

/// A process of this machine holding the image open for writing (a hypervisor, a copy).
fn writers(path: &Path, file: &File) -> Option<String> {
    let me = file.metadata().ok()?;
    let own = std::process::id().to_string();
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = proc_entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == own {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(m) = std::fs::metadata(fd.path()) else {
                continue;
            };
            if m.dev() != me.dev() || m.ino() != me.ino() {
                continue;
            }
            let info =
                std::fs::read_to_string(proc_entry.path().join("fdinfo").join(fd.file_name()))
                    .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            if flags & (libc::O_WRONLY | libc::O_RDWR) as i64 != 0 {
                let comm =
                    std::fs::read_to_string(proc_entry.path().join("comm")).unwrap_or_default();
                return Some(format!(
                    "{} is open for writing by pid {pid} ({}): a running VM or a copy in progress",
                    path.display(),
                    comm.trim()
                ));
            }
        }
    }
    None
}

/// Size and modification time: what a writer changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

pub fn stamp(file: &File) -> std::io::Result<Stamp> {
    let m = file.metadata()?;
    Ok(Stamp {
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}
