//! Stage 1: the initramfs root cannot be pivot_root'ed (runc needs that), so init moves its files
//! into a fresh tmpfs, makes that the root, and executes itself again there.

use crate::sys;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

const NEW_ROOT: &str = "/newroot";

/// Copies `/` into a tmpfs (freeing each initramfs file once copied) and switches to it.
/// Returns only on failure; on success it execs `/init --switched`.
pub fn switch_to_tmpfs() -> io::Error {
    match copy_and_move() {
        Ok(()) => {
            let err = std::os::unix::process::CommandExt::exec(
                std::process::Command::new("/init").arg("--switched"),
            );
            io::Error::new(
                err.kind(),
                format!("exec /init after switching root: {err}"),
            )
        }
        Err(e) => e,
    }
}

fn copy_and_move() -> io::Result<()> {
    fs::create_dir_all(NEW_ROOT)?;
    sys::mount("tmpfs", NEW_ROOT, "tmpfs", 0, "mode=0755")?;
    let root_dev = fs::symlink_metadata("/")?.dev();
    move_tree(Path::new("/"), Path::new(NEW_ROOT), root_dev)?;
    std::env::set_current_dir(NEW_ROOT)?;
    sys::mount(NEW_ROOT, "/", "", libc::MS_MOVE, "")?;
    sys::chroot(".")?;
    std::env::set_current_dir("/")
}

/// Copies `src` into `dest` entry by entry, deleting each copied file from the initramfs so the
/// memory is not held twice.
fn move_tree(src: &Path, dest: &Path, dev: u64) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let path = entry.path();
        if path == Path::new(NEW_ROOT) {
            continue;
        }
        let meta = fs::symlink_metadata(&path)?;
        if meta.dev() != dev {
            continue; // something mounted there: not ours to copy
        }
        let target = dest.join(entry.file_name());
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&target)?;
            move_tree(&path, &target, dev)?;
            let _ = fs::remove_dir(&path);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&path)?, &target)?;
            let _ = fs::remove_file(&path);
        } else if ft.is_file() {
            fs::copy(&path, &target)?;
            let _ = fs::remove_file(&path);
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            sys::mknod(&target, meta.mode(), meta.rdev())?;
            let _ = fs::remove_file(&path);
        } else {
            continue;
        }
        sys::lchown(&target, meta.uid(), meta.gid())?;
        if !ft.is_symlink() {
            fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}
