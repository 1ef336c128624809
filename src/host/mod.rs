//! The one I/O boundary for a source host's files: the `Host` trait.
//!
//! Analysis and build read the source host's files only through a `Host`, so the same code lifts a
//! running server ([`Live`]), a directory standing in for `/` ([`RootDir`]: a `collect --bundle`
//! directory, a mounted disk, a fixture under `samples/`) and a host whose files are not at hand
//! ([`NoFiles`]: a snapshot analyzed from its inventory alone). Which one a snapshot or a plan gets
//! is decided in one place, [`select`].
//!
//! Paths are absolute paths *inside* the host. Symlinks are resolved inside it (as a chroot
//! would), never against the machine running liftkit. Implementations provide four primitives on
//! paths that contain no symlink to follow (lstat, read_link, list, open); everything else (stat,
//! resolution, bounded reads, walks) is built on them here, once.

pub mod disk;
mod fs;
mod listdir;
mod none;
pub mod select;
mod walk;

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

pub use fs::{open_noatime, Live, RootDir};
pub use listdir::names as list_local_dir;
pub use none::NoFiles;
pub use walk::Walked;

/// Symlinks followed in one lookup before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// Reads of configuration-sized files stop here: a file that is not small must not be pulled into
/// memory whole.
pub const READ_LIMIT: u64 = 16 << 20;

/// A source host's file system, read-only.
pub trait Host: Send + Sync + fmt::Debug {
    /// What this host is, for messages: `/`, `/srv/bundle`, `no files`.
    fn describe(&self) -> String;

    /// What a plan records as its source root (`plan.source.root`): `/` for the live host, a
    /// directory, or empty when no files are at hand.
    fn root_label(&self) -> String;

    /// True for the machine liftkit runs on: its processes can be asked, its programs run.
    fn is_live(&self) -> bool {
        false
    }

    /// A copy behind a box, for holders that outlive the borrow (the ELF resolver's caches).
    fn boxed(&self) -> Box<dyn Host>;

    /// `lstat` of an in-host path whose parent directories are no symlinks.
    fn lstat(&self, abs: &Path) -> io::Result<Metadata>;

    fn read_link(&self, abs: &Path) -> io::Result<PathBuf>;

    /// Entry names of a directory (`abs` resolved, no symlink), sorted, `.` and `..` left out;
    /// listed without updating the directory's access time.
    fn list(&self, abs: &Path) -> io::Result<Vec<OsString>>;

    /// Opens a regular file (`abs` resolved) read-only, without updating its access time.
    /// Anything but a regular file is refused unopened: opening a FIFO blocks, opening a device
    /// runs its driver.
    fn open_resolved(&self, abs: &Path) -> io::Result<File>;

    /// The path with every symlink resolved inside the host.
    fn real_path(&self, abs: &Path) -> io::Result<PathBuf> {
        resolve(self, abs).map(|r| r.real)
    }

    /// Resolves `abs` component by component, recording each symlink passed on the way.
    fn resolve(&self, abs: &Path) -> io::Result<Resolved> {
        resolve(self, abs)
    }

    /// `stat` semantics: follows links inside the host.
    fn stat(&self, abs: &Path) -> io::Result<Metadata> {
        let real = self.real_path(abs)?;
        self.lstat(&real)
    }

    fn exists(&self, abs: &Path) -> bool {
        self.real_path(abs).is_ok()
    }

    /// Entry names of a directory, links followed inside the host.
    fn read_dir(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        let real = self.real_path(abs)?;
        self.list(&real)
    }

    /// Opens a file, links followed inside the host.
    fn open(&self, abs: &Path) -> io::Result<File> {
        let real = self.real_path(abs)?;
        self.open_resolved(&real)
    }

    /// Reads at most `limit` bytes.
    fn read_limited(&self, abs: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open(abs)?.take(limit).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// A text file's content (lossy UTF-8), at most [`READ_LIMIT`] bytes.
    fn read_to_string(&self, abs: &Path) -> io::Result<String> {
        let bytes = self.read_limited(abs, READ_LIMIT)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Walks the tree at `top` (resolved) depth-first in name order, not following symlinks,
    /// down to `max_depth`; `visit` returns whether to go on, `failed` hears of unreadable parts.
    fn walk(
        &self,
        top: &Path,
        max_depth: usize,
        visit: &mut dyn FnMut(Walked) -> bool,
        failed: &mut dyn FnMut(&Path, io::Error),
    ) {
        walk::walk(self, top, max_depth, visit, failed)
    }
}

/// The live host: this machine's `/`.
pub fn live() -> Live {
    Live
}

/// A directory standing in for `/`.
pub fn at(root: impl Into<PathBuf>) -> RootDir {
    RootDir::new(root)
}

/// The outcome of resolving a path inside the host: the real file and every symlink passed on the
/// way (absolute, in-host paths), so an image can reproduce the host's layout link by link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub real: PathBuf,
    pub links: Vec<PathBuf>,
}

fn resolve<H: Host + ?Sized>(host: &H, abs: &Path) -> io::Result<Resolved> {
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
        let meta = host.lstat(&candidate)?;
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
        let target = host.read_link(&candidate)?;
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

/// Normalizes an absolute path lexically (`.` and `..` removed), for paths that name files inside
/// a host rather than on this machine.
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
        let host = at(root);
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
        let host = at(root);
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

    #[test]
    fn a_host_without_files_has_none() {
        let host: &dyn Host = &NoFiles;
        assert!(!host.exists(Path::new("/etc/passwd")));
        assert_eq!(
            host.read_to_string(Path::new("/etc/passwd"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(host.root_label(), "");
    }
}
