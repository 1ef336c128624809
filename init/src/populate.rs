//! `liftkit-init populate SRC DST`: fills a Kubernetes volume with the data liftkit lifted, as
//! the init container of the app's pod. The data image carries the data and this (static)
//! program, so no shell or tool is needed beside it.
//!
//! Copies only into an empty volume (a filesystem's `lost+found` aside): the pod may restart
//! any number of times, and after the first start the data is the app's, never overwritten.
//! Owners, modes, mtimes and symlinks are kept (PostgreSQL and redis refuse data they do not
//! own), and the volume's root takes the mode and owner of the lifted directory.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub fn run(args: &[String]) -> i32 {
    let [src, dst] = args else {
        eprintln!("usage: liftkit-init populate SRC DST");
        return 2;
    };
    let (src, dst) = (Path::new(src), Path::new(dst));
    match populate(src, dst) {
        Ok(Outcome::Filled(n)) => {
            eprintln!(
                "populate: {} filled from {} ({n} entries)",
                dst.display(),
                src.display()
            );
            0
        }
        Ok(Outcome::AlreadyThere) => {
            eprintln!(
                "populate: {} holds data already: left as it is",
                dst.display()
            );
            0
        }
        Err(e) => {
            eprintln!("populate: {} from {}: {e}", dst.display(), src.display());
            1
        }
    }
}

pub enum Outcome {
    Filled(u64),
    AlreadyThere,
}

pub fn populate(src: &Path, dst: &Path) -> io::Result<Outcome> {
    let occupied = std::fs::read_dir(dst)?
        .filter_map(Result::ok)
        .any(|e| e.file_name() != "lost+found");
    if occupied {
        return Ok(Outcome::AlreadyThere);
    }
    let mut count = 0;
    copy_dir_contents(src, dst, &mut count)?;
    keep_metadata(&std::fs::symlink_metadata(src)?, dst, false)?;
    Ok(Outcome::Filled(count))
}

fn copy_dir_contents(src: &Path, dst: &Path, count: &mut u64) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(src)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let (from, to) = (src.join(&name), dst.join(&name));
        let meta = std::fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_dir_contents(&from, &to, count)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        keep_metadata(&meta, &to, ft.is_symlink())?;
        *count += 1;
    }
    Ok(())
}

/// Owner first (chown clears setuid bits), then mode, then mtime.
fn keep_metadata(meta: &std::fs::Metadata, to: &Path, is_link: bool) -> io::Result<()> {
    crate::sys::lchown(to, meta.uid(), meta.gid())?;
    if is_link {
        return Ok(());
    }
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    let times = [
        libc::timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        libc::timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    ];
    let path = crate::sys::cstr(to);
    // SAFETY: a valid C path and two timespecs, as utimensat takes them.
    crate::sys::check(unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_an_empty_volume_once_and_keeps_modes() {
        let dir = tempfile_dir();
        let (src, dst) = (dir.join("src"), dir.join("dst"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/data"), "lifted").unwrap();
        std::os::unix::fs::symlink("sub/data", src.join("link")).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir_all(dst.join("lost+found")).unwrap();
        assert!(matches!(populate(&src, &dst).unwrap(), Outcome::Filled(3)));
        assert_eq!(std::fs::read_to_string(dst.join("link")).unwrap(), "lifted");
        let mode = std::fs::metadata(&dst).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        std::fs::write(dst.join("sub/data"), "written by the app").unwrap();
        assert!(matches!(
            populate(&src, &dst).unwrap(),
            Outcome::AlreadyThere
        ));
        assert_eq!(
            std::fs::read_to_string(dst.join("sub/data")).unwrap(),
            "written by the app"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("liftkit-populate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
