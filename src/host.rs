//! The one I/O boundary for file contents: a root directory standing in for `/`.
//!
//! The live server is `Host::live()` (root `/`); a mounted disk, a `collect --bundle` directory or a
//! test fixture under `samples/` is `Host::at(dir)`. Analysis and build read files only through
//! here, so the same code lifts a running server, a dead disk and a fixture. Symlinks are resolved
//! inside the root (as a chroot would), never against the machine running liftkit.

use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one lookup before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

/// The outcome of resolving a path inside the root: the real file and every symlink passed on the
/// way (absolute, in-root paths), so an image can reproduce the host's layout link by link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub real: PathBuf,
    pub links: Vec<PathBuf>,
}

impl Host {
    pub fn live() -> Self {
        Host {
            root: PathBuf::from("/"),
        }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where an in-root absolute path lives on this machine, without following links.
    pub fn outside(&self, abs: &Path) -> PathBuf {
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        if rel.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    pub fn lstat(&self, abs: &Path) -> io::Result<Metadata> {
        std::fs::symlink_metadata(self.outside(abs))
    }

    /// `stat` semantics: follows links inside the root.
    pub fn stat(&self, abs: &Path) -> io::Result<Metadata> {
        let real = self.real_path(abs)?;
        self.lstat(&real)
    }

    pub fn read_link(&self, abs: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(self.outside(abs))
    }

    pub fn exists(&self, abs: &Path) -> bool {
        self.real_path(abs).is_ok()
    }

    /// Entry names of a directory (links followed inside the root), sorted for stable output;
    /// listed without updating the directory's access time.
    pub fn read_dir(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        let real = self.real_path(abs)?;
        crate::listdir::names(&self.outside(&real))
    }

    /// Opens read-only, without updating the access time where the kernel allows it: liftkit must
    /// leave no trace on the host it inspects.
    pub fn open(&self, abs: &Path) -> io::Result<File> {
        let real = self.real_path(abs)?;
        open_noatime(&self.outside(&real))
    }

    /// Reads at most `limit` bytes: configuration files are small, and a file that is not must
    /// not be pulled into memory whole.
    pub fn read_limited(&self, abs: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open(abs)?.take(limit).read_to_end(&mut buf)?;
        Ok(buf)
    }

    pub fn read_to_string(&self, abs: &Path) -> io::Result<String> {
        let bytes = self.read_limited(abs, 16 << 20)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn real_path(&self, abs: &Path) -> io::Result<PathBuf> {
        if self.is_live() {
            // The kernel resolves exactly as a chroot at `/` would, and faster.
            return std::fs::canonicalize(abs);
        }
        self.resolve(abs).map(|r| r.real)
    }

    /// Resolves `abs` component by component, following symlinks inside the root and recording each
    /// one. `..` never climbs above the root.
    pub fn resolve(&self, abs: &Path) -> io::Result<Resolved> {
        let mut pending: Vec<OsString> = components_of(abs);
        pending.reverse();
        let mut current = PathBuf::from("/");
        let mut links = Vec::new();
        while let Some(name) = pending.pop() {
            if name == ".." {
                current.pop();
                continue;
            }
            let candidate = current.join(&name);
            let meta = self.lstat(&candidate)?;
            if !meta.file_type().is_symlink() {
                current = candidate;
                continue;
            }
            if links.len() >= MAX_LINKS {
                return Err(io::Error::other(format!(
                    "too many levels of symbolic links at {}",
                    candidate.display()
                )));
            }
            let target = self.read_link(&candidate)?;
            links.push(candidate);
            if target.is_absolute() {
                current = PathBuf::from("/");
            }
            let mut target_parts = components_of(&target);
            target_parts.reverse();
            pending.extend(target_parts);
        }
        Ok(Resolved {
            real: current,
            links,
        })
    }
}

/// Splits a path into normal components and `..`, dropping `.` and the root.
fn components_of(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
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
    let file = match open_read(&by_fd) {
        // Without procfs (a minimal chroot), open the path again and check what was opened.
        Err(e) if e.kind() == io::ErrorKind::NotFound => open_read(path)?,
        other => other?,
    };
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

/// Normalizes an absolute path lexically (`.` and `..` removed), for paths that name files inside
/// a root rather than on this machine.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolves_links_inside_the_root_and_records_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::write(root.join("usr/lib/x86_64-linux-gnu/libc.so.6"), b"x").unwrap();
        symlink("libc.so.6", root.join("usr/lib/x86_64-linux-gnu/libc.so")).unwrap();
        let host = Host::at(root);
        let r = host
            .resolve(Path::new("/lib/x86_64-linux-gnu/libc.so"))
            .unwrap();
        assert_eq!(r.real, PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert_eq!(
            r.links,
            vec![
                PathBuf::from("/lib"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so")
            ]
        );
    }

    #[test]
    fn absolute_links_stay_in_the_root_and_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/real"), b"x").unwrap();
        symlink("/etc/real", root.join("etc/abs")).unwrap();
        symlink("/etc/loop2", root.join("etc/loop1")).unwrap();
        symlink("/etc/loop1", root.join("etc/loop2")).unwrap();
        symlink("../../../../etc/real", root.join("etc/climb")).unwrap();
        let host = Host::at(root);
        assert_eq!(
            host.real_path(Path::new("/etc/abs")).unwrap(),
            PathBuf::from("/etc/real")
        );
        assert_eq!(
            host.real_path(Path::new("/etc/climb")).unwrap(),
            PathBuf::from("/etc/real")
        );
        assert!(host.real_path(Path::new("/etc/loop1")).is_err());
    }
}
