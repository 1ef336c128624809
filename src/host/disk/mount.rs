//! Read-only mounts of a disk's file systems, private to liftkit.
//!
//! liftkit first moves itself into a mount namespace of its own (`unshare(CLONE_NEWNS)`, every
//! mount made private), so nothing it mounts is seen by the host, and all of it disappears with
//! the process. A partition is attached to a loop device that is itself read-only
//! (`LO_FLAGS_READ_ONLY`: the kernel refuses any write to the image, whatever a file system
//! driver wants) and that frees itself when unmounted (`LO_FLAGS_AUTOCLEAR`); the file system is
//! mounted `ro` without journal replay (`noload` for ext4, `norecovery` for xfs), `nodev`,
//! `nosuid` and `noexec`.

use super::DiskError;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// Moves this process into a mount namespace of its own. Must run before any thread starts:
/// the kernel refuses it to a multi-threaded process.
pub fn enter_private_namespace() -> Result<(), DiskError> {
    // SAFETY: unshare and mount with valid, NUL-terminated arguments; no memory is shared.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(DiskError::Mount(format!(
                "cannot enter a private mount namespace ({}): reading a disk needs root (CAP_SYS_ADMIN)",
                std::io::Error::last_os_error()
            )));
        }
        let root = CString::new("/").unwrap_or_default();
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(DiskError::Mount(format!(
                "cannot make mounts private: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// A read-only loop device over `len` bytes of `image` from `offset`.
/// `scratch` holds a device node of liftkit's own when the machine's /dev lacks the one the
/// kernel handed out (a container's /dev without udev): the host's /dev is never written.
pub fn attach(
    image: &Path,
    offset: u64,
    len: u64,
    scratch: &Path,
) -> Result<(PathBuf, File), DiskError> {
    let backing = File::open(image).map_err(|e| DiskError::io(image, "cannot open", e))?;
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| {
            DiskError::Mount(format!(
                "/dev/loop-control: {e} (loop devices are needed to mount a disk image)"
            ))
        })?;
    for _ in 0..16 {
        // SAFETY: ioctls on descriptors this function owns, with a properly laid out argument.
        let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
        if n < 0 {
            return Err(DiskError::Mount(format!(
                "no free loop device: {}",
                std::io::Error::last_os_error()
            )));
        }
        let mut dev = PathBuf::from(format!("/dev/loop{n}"));
        if !dev.exists() {
            dev = scratch.join(format!("loop{n}"));
            node(&dev, n as u32)?;
        }
        let lo = match OpenOptions::new().read(true).open(&dev) {
            Ok(f) => f,
            Err(e) => return Err(DiskError::Mount(format!("{}: {e}", dev.display()))),
        };
        let mut cfg = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: 0,
            info: LoopInfo64 {
                lo_device: 0,
                lo_inode: 0,
                lo_rdevice: 0,
                lo_offset: offset,
                lo_sizelimit: len,
                lo_number: 0,
                lo_encrypt_type: 0,
                lo_encrypt_key_size: 0,
                lo_flags: LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR,
                lo_file_name: [0; 64],
                lo_crypt_name: [0; 64],
                lo_encrypt_key: [0; 32],
                lo_init: [0; 2],
            },
            reserved: [0; 8],
        };
        let name = image.as_os_str().as_bytes();
        let k = name.len().min(63);
        cfg.info.lo_file_name[..k].copy_from_slice(&name[..k]);
        // SAFETY: see above.
        let rc = unsafe {
            libc::ioctl(
                lo.as_raw_fd(),
                LOOP_CONFIGURE as _,
                &cfg as *const LoopConfig,
            )
        };
        if rc == 0 {
            return Ok((dev, lo));
        }
        let err = std::io::Error::last_os_error();
        // Another process took the device between asking and configuring: ask again.
        if err.raw_os_error() != Some(libc::EBUSY) {
            return Err(DiskError::Mount(format!(
                "{}: cannot attach the image: {err}",
                dev.display()
            )));
        }
    }
    Err(DiskError::Mount(
        "no loop device stayed free long enough".into(),
    ))
}

/// A block device node for loop device `n` (major 7).
fn node(path: &Path, n: u32) -> Result<(), DiskError> {
    if path.exists() {
        return Ok(());
    }
    let c = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: a valid path; makedev and mknod take plain integers.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, n)) };
    if rc != 0 {
        return Err(DiskError::Mount(format!(
            "/dev/loop{n} is missing and {} cannot be made: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Mounts a file system read-only at `target`, journals not replayed.
pub fn mount_ro(dev: &Path, target: &Path, fstype: &str) -> std::io::Result<()> {
    let opts = match fstype {
        "xfs" => "norecovery,nouuid",
        _ => "noload",
    };
    let c = |p: &[u8]| CString::new(p).map_err(|_| std::io::Error::other("NUL in a path"));
    let (src, dst, ty, data) = (
        c(dev.as_os_str().as_bytes())?,
        c(target.as_os_str().as_bytes())?,
        c(fstype.as_bytes())?,
        c(opts.as_bytes())?,
    );
    let flags = libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOSUID | libc::MS_NOEXEC;
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            ty.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn unmount(target: &Path) {
    if let Ok(t) = CString::new(target.as_os_str().as_bytes()) {
        // SAFETY: a valid path; MNT_DETACH never blocks on a busy mount.
        unsafe {
            libc::umount2(t.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// A scratch directory for the mount points: a tmpfs private to the namespace, so even the
/// points leave nothing behind on the host's disk.
pub fn scratch() -> Result<PathBuf, DiskError> {
    let dir = std::env::temp_dir().join(format!("liftkit-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| DiskError::io(&dir, "cannot create", e))?;
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let (src, dst, ty, opts) = (
        c("liftkit"),
        CString::new(dir.as_os_str().as_bytes()).unwrap_or_default(),
        c("tmpfs"),
        c("mode=0700,size=1m"),
    );
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            ty.as_ptr(),
            // Not nodev: a loop device node may have to live here (see `attach`).
            libc::MS_NOSUID,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(DiskError::Mount(format!(
            "{}: cannot mount a scratch tmpfs: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(dir)
}
