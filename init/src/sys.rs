//! Thin, checked wrappers over the system calls init needs: each returns `io::Result` so callers
//! can report what failed and go on where a failure is not fatal.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn cstr(p: impl AsRef<Path>) -> CString {
    CString::new(p.as_ref().as_os_str().as_bytes()).unwrap_or_default()
}

pub fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn mount(
    source: &str,
    target: impl AsRef<Path>,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<()> {
    let (s, t, f, d) = (cstr(source), cstr(target), cstr(fstype), cstr(data));
    let data_ptr = if data.is_empty() {
        std::ptr::null()
    } else {
        d.as_ptr() as *const libc::c_void
    };
    // SAFETY: every pointer is a valid NUL-terminated string or null, alive for the call.
    check(unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, data_ptr) })
}

pub fn umount(target: impl AsRef<Path>, flags: libc::c_int) -> io::Result<()> {
    let t = cstr(target);
    // SAFETY: valid NUL-terminated path.
    check(unsafe { libc::umount2(t.as_ptr(), flags) })
}

pub fn chroot(path: impl AsRef<Path>) -> io::Result<()> {
    let p = cstr(path);
    // SAFETY: valid NUL-terminated path.
    check(unsafe { libc::chroot(p.as_ptr()) })
}

/// `LOOP_CTL_GET_FREE` on /dev/loop-control: the number of a free loop device.
pub fn loop_get_free(control: &std::fs::File) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
    // SAFETY: a valid fd; the request takes no argument.
    let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
    check(n)?;
    Ok(n as u32)
}

/// `LOOP_SET_FD`: backs the loop device with `file`; read-only when `file` was opened so.
pub fn loop_set_fd(device: &std::fs::File, file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const LOOP_SET_FD: libc::c_ulong = 0x4C00;
    // SAFETY: two valid fds; the request takes the backing fd as its argument.
    check(unsafe { libc::ioctl(device.as_raw_fd(), LOOP_SET_FD as _, file.as_raw_fd()) })
}

pub fn lchown(path: impl AsRef<Path>, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// Loads a kernel module from an open file (finit_module), so no modprobe is needed.
pub fn finit_module(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let params = c"";
    // SAFETY: a valid fd and an empty parameter string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) };
    check(rc as libc::c_int)
}

pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    check(unsafe { libc::kill(pid, sig) })
}

pub fn sync() {
    // SAFETY: no arguments.
    unsafe { libc::sync() }
}

pub fn reboot(cmd: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall with an integer argument.
    check(unsafe { libc::reboot(cmd) })
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length of a live byte slice.
    check(unsafe { libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()) })
}

/// Reaps one exited child without blocking: `Some((pid, status))`.
pub fn reap() -> Option<(i32, i32)> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then_some((pid, status))
}

/// Exit code of a wait status, or 128 + signal when it was killed.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// A pipe whose read end does not block: `(read, write)`, both close-on-exec (a child gets the
/// write end only as the stdio it is given).
pub fn log_pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (r, w) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    check(unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) })?;
    Ok((r, w))
}
