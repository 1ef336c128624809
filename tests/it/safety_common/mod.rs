//! Pieces of the safety tests: file metadata compared before and after a run.

#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a run could change about a path: lstat fields and, for a regular file, a content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub atime: (i64, i64),
    pub content: Option<String>,
}

/// The state of `path`, read without changing it: lstat, then the content through O_NOATIME.
pub fn state(path: &Path) -> Option<State> {
    let m = std::fs::symlink_metadata(path).ok()?;
    let content = if m.is_file() {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME | libc::O_NONBLOCK)
            .open(path)
            .ok()
            .map(|mut f| {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                std::io::copy(&mut f, &mut h).unwrap();
                hex::encode(h.finalize())
            })
    } else if m.file_type().is_symlink() {
        std::fs::read_link(path)
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    } else {
        None
    };
    Some(State {
        kind: m.mode() & libc::S_IFMT,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        ino: m.ino(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
        atime: (m.atime(), m.atime_nsec()),
        content,
    })
}

/// Sets a path's access time to 2001 (not following links), old enough that a `relatime` mount
/// updates it on the next read that does not ask for O_NOATIME.
pub fn set_old_atime(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let times = [
        libc::timespec {
            tv_sec: 978_307_200,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    ];
    // SAFETY: a valid path and the two timespecs utimensat expects.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        rc,
        0,
        "{}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Every path under `dir`, `dir` included.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(tree(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether the mount holding `path` updates access times (not `noatime`).
pub fn mount_updates_atime(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let mut best: Option<(usize, bool)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 3 && path.starts_with(f[1]) && best.is_none_or(|(l, _)| f[1].len() >= l) {
            best = Some((f[1].len(), !f[3].split(',').any(|o| o == "noatime")));
        }
    }
    best.is_some_and(|(_, updates)| updates)
}

/// Runs `cmd` to completion (stdout and stderr kept) and returns its exit code, output and
/// peak resident memory in KiB (its own VmHWM, sampled while it runs: see
/// `liftkit::bench::measure`).
// The child is reaped by wait4 (for its rusage), which std's Child does not know about.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut std::process::Command) -> (i32, String, String, u64) {
    use liftkit::bench::measure::{exited, HighWater};
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let child = cmd
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let peak = HighWater::watch(pid);
    exited(pid);
    let peak = peak.finish();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "{}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        code,
        std::fs::read_to_string(&o).unwrap_or_default(),
        std::fs::read_to_string(&e).unwrap_or_default(),
        peak,
    )
}

/// A sparse file of `size` bytes with a little data at its start and end.
pub fn sparse_file(path: &Path, size: u64, head: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(head).unwrap();
    f.set_len(size).unwrap();
    f.seek(SeekFrom::Start(size - 4)).unwrap();
    f.write_all(b"end\n").unwrap();
}

/// Bytes a file really occupies on disk.
pub fn disk_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}
