//! Hosts backed by a file system of this machine: the live `/`, or a directory standing in for it
//! (a bundle, a mounted disk, a fixture).

use super::{listdir, Host};
use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// This machine's own `/`, read as the source host.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live;

/// A directory standing in for the source host's `/`.
#[derive(Debug, Clone)]
pub struct RootDir {
    root: PathBuf,
}

impl RootDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RootDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an in-host path lives on this machine, without following links.
    fn local(&self, abs: &Path) -> PathBuf {
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        if rel.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

impl Host for Live {
    fn describe(&self) -> String {
        "this machine's /".to_string()
    }

    fn root_label(&self) -> String {
        "/".to_string()
    }

    fn is_live(&self) -> bool {
        true
    }

    fn boxed(&self) -> Box<dyn Host> {
        Box::new(*self)
    }

    fn lstat(&self, abs: &Path) -> io::Result<Metadata> {
        std::fs::symlink_metadata(abs)
    }

    fn read_link(&self, abs: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(abs)
    }

    fn list(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        listdir::names(abs)
    }

    fn open_resolved(&self, abs: &Path) -> io::Result<File> {
        open_noatime(abs)
    }

    /// The kernel resolves exactly as a chroot at `/` would, and faster.
    fn real_path(&self, abs: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(abs)
    }

    // The kernel follows links as the default methods would, without a `readlink` per
    // component first (that was a fifth of the ELF resolver's time).
    fn stat(&self, abs: &Path) -> io::Result<Metadata> {
        std::fs::metadata(abs)
    }

    fn exists(&self, abs: &Path) -> bool {
        std::fs::metadata(abs).is_ok()
    }

    fn read_dir(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        listdir::names(abs)
    }

    fn open(&self, abs: &Path) -> io::Result<File> {
        open_noatime(abs)
    }
}

impl Host for RootDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn root_label(&self) -> String {
        self.root.to_string_lossy().into_owned()
    }

    fn boxed(&self) -> Box<dyn Host> {
        Box::new(self.clone())
    }

    fn lstat(&self, abs: &Path) -> io::Result<Metadata> {
        std::fs::symlink_metadata(self.local(abs))
    }

    fn read_link(&self, abs: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(self.local(abs))
    }

    fn list(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        listdir::names(&self.local(abs))
    }

    fn open_resolved(&self, abs: &Path) -> io::Result<File> {
        open_noatime(&self.local(abs))
    }
}

/// Opens a regular file read-only with `O_NOATIME`, falling back to a plain read-only open where
/// the kernel refuses it (files the caller does not own, without CAP_FOWNER).
///
/// Anything but a regular file is refused without being opened: opening a FIFO blocks, and
/// opening a device runs its driver (a watchdog starts counting down). The path is first opened
/// with `O_PATH`, which reaches no driver, checked, then reopened through `/proc/self/fd`, so the
/// file checked is the file read. `O_NONBLOCK` keeps a file swapped for a FIFO meanwhile from
/// hanging the run.
pub fn open_noatime(path: &Path) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)?;
    if !handle.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, device, FIFO or socket): not opened",
        ));
    }
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    match open_read(&by_fd) {
        // The descriptor's link reopens the very file checked: nothing to check again.
        Ok(file) => return Ok(file),
        // Without procfs (a minimal chroot), open the path again and check what was opened.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file = open_read(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "replaced by something other than a regular file while opened: not read",
        ));
    }
    Ok(file)
}

fn open_read(path: &Path) -> io::Result<File> {
    let flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
    let attempt = OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_NOATIME)
        .open(path);
    match attempt {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            OpenOptions::new().read(true).custom_flags(flags).open(path)
        }
        other => other,
    }
}
