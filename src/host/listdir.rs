//! Directory listings on this machine's file systems that leave their access times alone.
//!
//! Reading a directory updates its access time like reading a file does (on `relatime` mounts,
//! once a day or after a change), and `std::fs::read_dir` offers no way to ask for `O_NOATIME`.
//! So directories are opened here with `O_NOATIME` and read with `fdopendir`/`readdir`.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Entry names of a directory of this machine, `.` and `..` left out, sorted.
pub fn names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let stream = DirStream::open(dir)?;
    while let Some(name) = stream.next_name()? {
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// An open directory stream, closed on drop.
struct DirStream(*mut libc::DIR);

impl DirStream {
    fn open(dir: &Path) -> io::Result<Self> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL"))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        let mut fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_NOATIME) };
        if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
            // O_NOATIME is refused on directories the caller does not own (without CAP_FOWNER).
            // SAFETY: as above.
            fd = unsafe { libc::open(c.as_ptr(), flags) };
        }
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open directory descriptor; on success the stream owns it.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `fd` is still ours to close.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Ok(DirStream(dir))
    }

    fn next_name(&self) -> io::Result<Option<OsString>> {
        // readdir reports errors only through errno, which must be cleared first.
        // SAFETY: errno is thread-local; the stream is open until drop.
        unsafe { *libc::__errno_location() = 0 };
        let entry = unsafe { libc::readdir(self.0) };
        if entry.is_null() {
            return match io::Error::last_os_error().raw_os_error() {
                Some(0) | None => Ok(None),
                Some(_) => Err(io::Error::last_os_error()),
            };
        }
        // SAFETY: a non-null entry is valid until the next readdir on this stream, and d_name
        // is NUL-terminated; the name is copied out before that.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        Ok(Some(OsStr::from_bytes(name.to_bytes()).to_os_string()))
    }
}

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: the stream was opened by fdopendir and is closed exactly once.
        unsafe { libc::closedir(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn atime(p: &Path) -> (i64, i64) {
        let m = std::fs::metadata(p).unwrap();
        (m.atime(), m.atime_nsec())
    }

    fn set_old_atime(p: &Path) {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        let times = [
            libc::timespec {
                tv_sec: 978_307_200, // 2001-01-01: old enough that relatime would update it
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        ];
        // SAFETY: valid path and a two-element timespec array, as utimensat expects.
        let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn lists_sorted_names_and_walks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/f"), "").unwrap();
        std::fs::write(root.join("a"), "").unwrap();
        assert_eq!(names(root).unwrap(), vec![OsString::from("a"), "b".into()]);
    }

    #[test]
    fn listing_leaves_the_access_time_alone() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("d");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x"), "").unwrap();
        set_old_atime(&sub);
        let before = atime(&sub);
        names(&sub).unwrap();
        // Without O_NOATIME a relatime mount updates an atime this old; as root (or the owner)
        // the kernel honours O_NOATIME.
        assert_eq!(atime(&sub), before);
        std::fs::read_dir(&sub).unwrap().for_each(drop);
        if !is_noatime_mount(&sub) {
            assert_ne!(atime(&sub), before, "std's listing does update it here");
        }
    }

    fn is_noatime_mount(p: &Path) -> bool {
        let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
            return true;
        };
        let mut best: Option<(usize, bool)> = None;
        for line in mounts.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 3 && p.starts_with(f[1]) && best.is_none_or(|(l, _)| f[1].len() >= l) {
                best = Some((f[1].len(), f[3].split(',').any(|o| o == "noatime")));
            }
        }
        best.is_none_or(|(_, noatime)| noatime)
    }
}
