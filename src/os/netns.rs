//! Running a closure inside another process's network namespace. A container started with its
//! own network listens on the same addresses the original does; entering its namespace from one
//! thread lets both be probed side by side, with no port published and no conflict.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn run_in<T: Send>(pid: i32, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let ns = std::fs::File::open(Path::new("/proc").join(pid.to_string()).join("ns/net"))?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns on a namespace fd we own; CLONE_NEWNET changes only this thread,
                // which ends when the closure returns.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other("probe thread panicked"))?
    })
}
