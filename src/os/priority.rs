//! Gentle by default: the verbs that read a production host run at low CPU and I/O priority,
//! so the applications on it keep the machine.

/// The nice value taken (the range is -20..19; 10 is what `nice` gives by default).
const NICE: libc::c_int = 10;

/// ioprio classes and the syscall's "this process" selector (linux/ioprio.h).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_BE: libc::c_int = 2;
const IOPRIO_CLASS_IDLE: libc::c_int = 3;
const IOPRIO_CLASS_SHIFT: libc::c_int = 13;
/// Lowest best-effort level: idle would starve the run for as long as the disks stay busy.
const IOPRIO_BE_LOWEST: libc::c_int = 7;

/// Lowers CPU and I/O priority, never raising either: a liftkit started at nice 15 stays there.
/// Failures (a seccomp filter refusing ioprio_set) leave the priority as it was.
pub fn lower() {
    // SAFETY: getpriority/setpriority on the calling process have no memory effects; errno is
    // cleared first because -1 is also a valid priority.
    unsafe {
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, 0);
        let known = *libc::__errno_location() == 0;
        if !known || now < NICE {
            libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
        }
    }
    // SAFETY: ioprio_get/ioprio_set take integers only.
    unsafe {
        let now = libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) as libc::c_int;
        let class = if now >= 0 {
            now >> IOPRIO_CLASS_SHIFT
        } else {
            0
        };
        let level = now & ((1 << IOPRIO_CLASS_SHIFT) - 1);
        let already_lower =
            class == IOPRIO_CLASS_IDLE || (class == IOPRIO_CLASS_BE && level >= IOPRIO_BE_LOWEST);
        if !already_lower {
            let prio = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | IOPRIO_BE_LOWEST;
            libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio);
        }
    }
}
