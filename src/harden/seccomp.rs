//! The app's system call profile (`seccomp.json`): the docker/OCI JSON format podman, docker,
//! containerd and CRI-O read (Kubernetes as a `Localhost` profile), default action
//! `SCMP_ACT_ERRNO` with EPERM, allowing the calls the app made in its trial run plus what its
//! supervisor and the runtime need after the filter is loaded. Any other call fails with EPERM:
//! the program sees a refused call, never a killed process or an engine error.

use serde::Serialize;
use std::collections::BTreeSet;

/// What liftkit's supervisor (`/.liftkit/pid1`, init/src/app_pid1.rs) calls when it is not
/// tracing: start-up of a static Rust binary, the signalfd loop, fork + exec of the service,
/// waitpid, the /proc scan for its children, kill to forward signals, and the child's steps
/// between fork and exec. Measured with `strace -ff` on the supervisor; `tests/it/hardening.rs`
/// checks the supervisor still needs nothing else.
pub const SUPERVISOR: &[&str] = &[
    "arch_prctl",
    "brk",
    "clone",
    "clone3",
    "close",
    "execve",
    "exit",
    "exit_group",
    "fstat",
    "futex",
    "getdents64",
    "getpid",
    "getrandom",
    "gettid",
    "kill",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "newfstatat",
    "openat",
    "poll",
    "prctl",
    "prlimit64",
    "read",
    "readlink",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_getaffinity",
    "set_robust_list",
    "set_tid_address",
    "sigaltstack",
    "signalfd4",
    "statx",
    "vfork",
    "wait4",
    "write",
];

/// What the runtime does after it loads the filter: with `no-new-privileges`, runc and crun
/// load it late, just before `execve` of the container's first program (runc 1.1 still checks
/// that /proc/self/fd is procfs with fstatfs before closing descriptors; found with a
/// `SCMP_ACT_LOG` profile); the Go runtime's other threads may still wait on a futex, sleep or
/// yield until the exec ends them.
pub const RUNTIME: &[&str] = &[
    "execve",
    "fstatfs",
    "statfs",
    "close_range",
    "futex",
    "nanosleep",
    "clock_nanosleep",
    "sched_yield",
    "epoll_pwait",
    "rt_sigreturn",
    "tgkill",
    "exit",
    "exit_group",
];

/// Calls of one kind: a program that made one of them may make the others on a path its trial
/// run did not take (redis writes with `write` in the trial, and `SAVE` later adds `fsync` and
/// `rename`; a server that polled with `epoll_wait` may use `epoll_pwait` in another build).
/// A profile taking the whole kind for any call made is a little wider and far less brittle.
const FAMILIES: &[&[&str]] = &[
    &[
        "write",
        "pwrite64",
        "writev",
        "pwritev",
        "pwritev2",
        "fsync",
        "fdatasync",
        "sync_file_range",
        "ftruncate",
        "fallocate",
        "rename",
        "renameat",
        "renameat2",
        "unlink",
        "unlinkat",
    ],
    &["read", "pread64", "readv", "preadv", "preadv2"],
    &["stat", "fstat", "lstat", "newfstatat", "statx"],
    &[
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
    ],
    &["accept", "accept4"],
    &["clone", "clone3", "fork", "vfork", "wait4", "waitid"],
    &["mmap", "munmap", "mprotect", "mremap", "madvise", "brk"],
    &["nanosleep", "clock_nanosleep"],
    &[
        "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
    ],
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: &'static str,
    default_errno_ret: u32,
    arch_map: Vec<Arch>,
    syscalls: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Arch {
    architecture: &'static str,
    sub_architectures: Vec<&'static str>,
}

#[derive(Serialize)]
struct Rule {
    names: Vec<String>,
    action: &'static str,
    comment: String,
}

/// The calls a profile allows: the app's (names only: a `#123` the table does not name is left
/// out, and fails) with the rest of their [`FAMILIES`], the supervisor's and the runtime's,
/// sorted.
pub fn allowed(app_calls: &[String]) -> Vec<String> {
    let mut set: BTreeSet<String> = app_calls
        .iter()
        .filter(|c| !c.starts_with('#'))
        .cloned()
        .collect();
    for family in FAMILIES {
        if family.iter().any(|c| set.contains(*c)) {
            set.extend(family.iter().map(|c| c.to_string()));
        }
    }
    set.extend(SUPERVISOR.iter().chain(RUNTIME).map(|s| s.to_string()));
    set.into_iter().collect()
}

/// `seccomp.json` for an app that made `app_calls` in its trial run.
pub fn profile(app: &str, app_calls: &[String]) -> String {
    let names = allowed(app_calls);
    let p = Profile {
        default_action: "SCMP_ACT_ERRNO",
        default_errno_ret: libc::EPERM as u32,
        arch_map: vec![Arch {
            architecture: "SCMP_ARCH_X86_64",
            sub_architectures: vec!["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        }],
        syscalls: vec![Rule {
            comment: format!(
                "{app}: {} calls seen in its trial run, plus liftkit's supervisor and the \
                 runtime; anything else fails with EPERM",
                app_calls.iter().filter(|c| !c.starts_with('#')).count()
            ),
            names,
            action: "SCMP_ACT_ALLOW",
        }],
    };
    // A struct of strings and lists always serializes.
    serde_json::to_string_pretty(&p).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_refuses_by_default_and_allows_what_was_used() {
        let calls = vec![
            "accept4".to_string(),
            "listen".to_string(),
            "#999".to_string(),
        ];
        let v: serde_json::Value = serde_json::from_str(&profile("web", &calls)).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        let names: Vec<&str> = v["syscalls"][0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(names.contains(&"accept4") && names.contains(&"listen"));
        assert!(names.contains(&"execve") && names.contains(&"signalfd4"));
        assert!(!names.iter().any(|n| n.starts_with('#')));
        assert!(
            !names.contains(&"ptrace"),
            "only the trial's supervisor traces"
        );
        assert!(names.contains(&"accept"), "accept4's family");
        assert!(
            !names.contains(&"bind"),
            "a server that never bound gets no bind"
        );
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(v["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
    }
}
