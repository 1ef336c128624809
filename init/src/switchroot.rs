//! Stage 1: the initramfs holds init, the kernel modules, init.conf and the system image (a
//! squashfs of everything else), or, booted from a disk image, the command line names the
//! partition holding that image (`liftkit.system=hsqs:<its superblock>`). Init loads the
//! modules, attaches an image file to a loop device (a partition needs none), mounts it
//! read-only on /newroot, deletes the initramfs files (their memory goes back to the
//! kernel; the image's stays, held by the loop device), moves /newroot onto `/` and executes the
//! image's own init. The root is then a real mount, so runc can pivot_root, and nothing of the
//! app is copied: its files are read (and decompressed) from the image when they are used.

use crate::{blockdev, cmdline, config, modules, sys};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

const NEW_ROOT: &str = "/newroot";
const SYSTEM_IMAGE: &str = "/system.img";

/// Mounts the system image as the root and execs its `/init --switched`. Returns only on failure.
pub fn switch_to_system_image() -> io::Error {
    match mount_and_move() {
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

fn mount_and_move() -> io::Result<()> {
    let text = fs::read_to_string(crate::CONFIG)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", crate::CONFIG)))?;
    let conf = config::parse(&text).map_err(io::Error::other)?;
    fs::create_dir_all("/dev")?;
    sys::mount("devtmpfs", "/dev", "devtmpfs", libc::MS_NOSUID, "mode=0755")
        .map_err(|e| io::Error::new(e.kind(), format!("mount devtmpfs on /dev: {e}")))?;
    for (fs_type, target) in [("proc", "/proc"), ("sysfs", "/sys")] {
        fs::create_dir_all(target)?;
        sys::mount(fs_type, target, fs_type, 0, "")
            .map_err(|e| io::Error::new(e.kind(), format!("mount {fs_type} on {target}: {e}")))?;
    }
    modules::load(&conf.modules);
    let boot = cmdline::parse(&fs::read_to_string("/proc/cmdline").unwrap_or_default());
    let device = match &boot.system {
        Some(want) => system_partition(want)?,
        None => attach_read_only(Path::new(SYSTEM_IMAGE))?,
    };
    fs::create_dir_all(NEW_ROOT)?;
    sys::mount(&device, NEW_ROOT, "squashfs", libc::MS_RDONLY, "").map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("mount the system image ({device}, squashfs) on {NEW_ROOT}: {e}"),
        )
    })?;
    crate::log(&format!("system image {device} mounted read-only"));
    // The system's init mounts its own; these were only for finding the image.
    for target in ["/dev", "/sys", "/proc"] {
        let _ = sys::umount(target, libc::MNT_DETACH);
    }
    let root_dev = fs::symlink_metadata("/")?.dev();
    delete_tree(Path::new("/"), root_dev);
    std::env::set_current_dir(NEW_ROOT)?;
    sys::mount(NEW_ROOT, "/", "", libc::MS_MOVE, "")?;
    sys::chroot(".")?;
    std::env::set_current_dir("/")
}

/// The partition whose first 96 bytes (a squashfs superblock) are `want` (`hsqs:HEX`).
fn system_partition(want: &str) -> io::Result<String> {
    let hex = want
        .strip_prefix("hsqs:")
        .unwrap_or(want)
        .to_ascii_lowercase();
    blockdev::find(96, Duration::from_secs(15), |head| {
        blockdev::hex(head) == hex
    })
    .ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no disk holds the system image named by liftkit.system= (is virtio_blk loaded?)",
        )
    })
}

/// Attaches `image` to a free loop device, read-only (the fd is), and returns the device path.
fn attach_read_only(image: &Path) -> io::Result<String> {
    let file = fs::File::open(image)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", image.display())))?;
    // The loop module creates /dev/loop-control when it loads; devtmpfs shows it right after.
    let deadline = Instant::now() + Duration::from_secs(5);
    let control = loop {
        match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
        {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("/dev/loop-control: {e} (is the loop module loaded?)"),
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let n = sys::loop_get_free(&control)
        .map_err(|e| io::Error::new(e.kind(), format!("no free loop device: {e}")))?;
    let dev = format!("/dev/loop{n}");
    let device = fs::OpenOptions::new()
        .read(true)
        .open(&dev)
        .map_err(|e| io::Error::new(e.kind(), format!("{dev}: {e}")))?;
    sys::loop_set_fd(&device, &file).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("attach {} to {dev}: {e}", image.display()),
        )
    })?;
    Ok(dev)
}

/// Deletes the initramfs' files, as switch_root does; mounts (the new root) are left alone. The
/// system image is only unlinked: the loop device keeps its data.
fn delete_tree(dir: &Path, dev: u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.dev() != dev {
            continue;
        }
        if meta.is_dir() {
            delete_tree(&path, dev);
            let _ = fs::remove_dir(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}
