//! The trial run's tracer: the supervisor follows every descendant with ptrace and writes what
//! they did to the file system and which system calls they made.
//!
//! Why ptrace in the supervisor: it needs nothing in the image (no strace, no library), it sees
//! each call's *result* (seccomp user notification sees the call but not whether the file was
//! there), and the same stops give the complete set of system calls for a seccomp profile.
//! `PTRACE_GET_SYSCALL_INFO` (Linux 5.3) gives the call's number, arguments and result without
//! reading registers, so the code is the same on every architecture; only the numbers differ,
//! and the trace names the architecture.
//!
//! The file is written as it goes (the engine may kill the container), one unique event a line,
//! tab-separated, paths last with `\t`, `\n` and `\\` escaped:
//! ```text
//! liftkit-trace 1 <audit arch>
//! open     <flags hex>  <path>       opened (read or write, by the flags)
//! exec     <path>                    executed
//! missing  <call>  <path>            looked up and not found (ENOENT/ENOTDIR)
//! noparent <call>  <path>            to be created, but its directory is missing
//! write    <call>  <path>            created, removed, renamed, changed (mkdir, unlink, chmod…)
//! denied   <call>  <errno>  <path>   EACCES, EPERM or EROFS on a path
//! refused  <arch>  <nr>  <errno>     EACCES, EPERM or EROFS on a call without a path
//! syscall  <arch>  <nr>              a system call made at least once
//! ```

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Past this many events only system calls are still recorded: a program writing files in a
/// loop must not fill the disk.
const MAX_EVENTS: usize = 200_000;
const PATH_MAX: usize = 4096;

/// `struct ptrace_syscall_info` (linux/ptrace.h), declared here so the layout does not depend on
/// the libc crate's version: op, pad, arch, ip, sp, then the entry/exit/seccomp union.
#[repr(C)]
#[derive(Default)]
struct SyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// entry: nr, args[6]; exit: rval (i64), is_error (u8).
    data: [u64; 7],
    seccomp_extra: u64,
}

const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;

/// What a path-taking call does with its path, which decides what a failure means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Opens: flags say read or write; ENOENT with O_CREAT means the directory is missing.
    Open,
    /// Needs the path to exist: stat, access, readlink, chdir.
    Lookup,
    /// Runs it.
    Exec,
    /// Makes the path: ENOENT means its directory is missing.
    Create,
    /// Changes or removes an existing path: ENOENT is not a need (a stale pid file).
    Modify,
}

/// One path-taking call: where its dirfd and path arguments are, and where its flags are.
struct Call {
    name: &'static str,
    class: Class,
    dirfd: Option<usize>,
    path: usize,
    flags: Flags,
}

#[derive(Clone, Copy)]
enum Flags {
    None,
    Arg(usize),
    /// openat2: `struct open_how` behind this argument, flags first.
    OpenHow(usize),
    /// creat(2): O_CREAT|O_WRONLY|O_TRUNC.
    Creat,
}

fn call(nr: i64) -> Option<Call> {
    use Class::*;
    let c = |name, class, dirfd, path, flags| {
        Some(Call {
            name,
            class,
            dirfd,
            path,
            flags,
        })
    };
    #[cfg(target_arch = "x86_64")]
    {
        let legacy = match nr {
            libc::SYS_open => c("open", Open, None, 0, Flags::Arg(1)),
            libc::SYS_creat => c("creat", Open, None, 0, Flags::Creat),
            libc::SYS_stat => c("stat", Lookup, None, 0, Flags::None),
            libc::SYS_lstat => c("lstat", Lookup, None, 0, Flags::None),
            libc::SYS_access => c("access", Lookup, None, 0, Flags::None),
            libc::SYS_readlink => c("readlink", Lookup, None, 0, Flags::None),
            libc::SYS_mkdir => c("mkdir", Create, None, 0, Flags::None),
            libc::SYS_mknod => c("mknod", Create, None, 0, Flags::None),
            libc::SYS_symlink => c("symlink", Create, None, 1, Flags::None),
            libc::SYS_link => c("link", Create, None, 1, Flags::None),
            libc::SYS_rename => c("rename", Create, None, 1, Flags::None),
            libc::SYS_unlink => c("unlink", Modify, None, 0, Flags::None),
            libc::SYS_rmdir => c("rmdir", Modify, None, 0, Flags::None),
            libc::SYS_chmod => c("chmod", Modify, None, 0, Flags::None),
            libc::SYS_chown => c("chown", Modify, None, 0, Flags::None),
            libc::SYS_lchown => c("lchown", Modify, None, 0, Flags::None),
            _ => None,
        };
        if legacy.is_some() {
            return legacy;
        }
    }
    match nr {
        libc::SYS_openat => c("openat", Open, Some(0), 1, Flags::Arg(2)),
        libc::SYS_openat2 => c("openat2", Open, Some(0), 1, Flags::OpenHow(2)),
        libc::SYS_newfstatat => c("newfstatat", Lookup, Some(0), 1, Flags::None),
        libc::SYS_statx => c("statx", Lookup, Some(0), 1, Flags::None),
        libc::SYS_faccessat => c("faccessat", Lookup, Some(0), 1, Flags::None),
        libc::SYS_faccessat2 => c("faccessat2", Lookup, Some(0), 1, Flags::None),
        libc::SYS_readlinkat => c("readlinkat", Lookup, Some(0), 1, Flags::None),
        libc::SYS_chdir => c("chdir", Lookup, None, 0, Flags::None),
        libc::SYS_statfs => c("statfs", Lookup, None, 0, Flags::None),
        libc::SYS_truncate => c("truncate", Modify, None, 0, Flags::None),
        libc::SYS_execve => c("execve", Exec, None, 0, Flags::None),
        libc::SYS_execveat => c("execveat", Exec, Some(0), 1, Flags::None),
        libc::SYS_mkdirat => c("mkdirat", Create, Some(0), 1, Flags::None),
        libc::SYS_mknodat => c("mknodat", Create, Some(0), 1, Flags::None),
        libc::SYS_symlinkat => c("symlinkat", Create, Some(1), 2, Flags::None),
        libc::SYS_linkat => c("linkat", Create, Some(2), 3, Flags::None),
        libc::SYS_renameat => c("renameat", Create, Some(2), 3, Flags::None),
        libc::SYS_renameat2 => c("renameat2", Create, Some(2), 3, Flags::None),
        libc::SYS_unlinkat => c("unlinkat", Modify, Some(0), 1, Flags::None),
        libc::SYS_fchmodat => c("fchmodat", Modify, Some(0), 1, Flags::None),
        libc::SYS_fchownat => c("fchownat", Modify, Some(0), 1, Flags::None),
        libc::SYS_utimensat => c("utimensat", Modify, Some(0), 1, Flags::None),
        _ => None,
    }
}

/// A call seen at its entry, waiting for its result.
struct Pending {
    nr: i64,
    arch: u32,
    path: Option<(&'static str, Class, String, u64)>,
}

pub struct Tracer {
    out: BufWriter<File>,
    events: HashSet<String>,
    syscalls: HashSet<(u32, i64)>,
    pending: HashMap<i32, Pending>,
    /// Tids whose first stop has been seen (a newly attached tracee starts with a SIGSTOP that is
    /// ours, not the program's).
    started: HashSet<i32>,
    /// Tids created as threads: their exit is not the service's.
    threads: HashSet<i32>,
    dirty: bool,
}

impl Tracer {
    pub fn create(path: &Path) -> std::io::Result<Tracer> {
        let file = File::create(path)?;
        let mut t = Tracer {
            out: BufWriter::new(file),
            events: HashSet::new(),
            syscalls: HashSet::new(),
            pending: HashMap::new(),
            started: HashSet::new(),
            threads: HashSet::new(),
            dirty: true,
        };
        writeln!(t.out, "liftkit-trace 1 {}", native_arch())?;
        Ok(t)
    }

    /// Waits for the freshly forked child's stop before exec, sets the options that follow
    /// its children and threads, and lets it run to its first system call.
    pub fn attach(&mut self, pid: i32) -> std::io::Result<()> {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } != pid {
            return Err(std::io::Error::last_os_error());
        }
        self.started.insert(pid);
        let options = libc::PTRACE_O_TRACESYSGOOD
            | libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEEXEC
            | libc::PTRACE_O_EXITKILL;
        // SAFETY: ptrace on our own stopped tracee with integer arguments.
        let rc = unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options) };
        let set = sys_check(rc);
        resume(pid, 0);
        set
    }

    /// A tracee stopped: a system call's entry or exit, a fork/clone/exec event, or a signal.
    pub fn stopped(&mut self, tid: i32, status: i32) {
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if sig == libc::SIGTRAP | 0x80 {
            self.syscall_stop(tid);
            resume(tid, 0);
        } else if sig == libc::SIGTRAP && event != 0 {
            if event == libc::PTRACE_EVENT_CLONE {
                let mut new: libc::c_ulong = 0;
                // SAFETY: GETEVENTMSG writes one unsigned long.
                unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, tid, 0, &mut new) };
                self.threads.insert(new as i32);
            }
            resume(tid, 0);
        } else if !self.started.contains(&tid) {
            // A new tracee's attach stop (it may come before its parent's fork event).
            self.started.insert(tid);
            resume(tid, if sig == libc::SIGSTOP { 0 } else { sig });
        } else if is_group_stop(tid) {
            resume(tid, 0);
        } else {
            resume(tid, sig);
        }
    }

    /// A tracee ended; true when it was a thread rather than a process.
    pub fn exited(&mut self, tid: i32) -> bool {
        self.pending.remove(&tid);
        self.started.remove(&tid);
        self.threads.remove(&tid)
    }

    pub fn flush(&mut self) {
        if self.dirty {
            let _ = self.out.flush();
            self.dirty = false;
        }
    }

    pub fn finish(&mut self) {
        let _ = self.out.flush();
    }

    fn syscall_stop(&mut self, tid: i32) {
        let mut info = SyscallInfo::default();
        // SAFETY: the kernel writes at most `size` bytes into `info`.
        let n = unsafe {
            libc::ptrace(
                PTRACE_GET_SYSCALL_INFO,
                tid,
                std::mem::size_of::<SyscallInfo>(),
                &mut info as *mut SyscallInfo,
            )
        };
        if n <= 0 {
            return;
        }
        match info.op {
            OP_ENTRY => {
                let nr = info.data[0] as i64;
                if self.syscalls.insert((info.arch, nr)) {
                    let line = format!("syscall\t{}\t{nr}", info.arch);
                    self.emit(line);
                }
                let args = &info.data[1..7];
                let path = (info.arch == native_arch())
                    .then(|| call(nr))
                    .flatten()
                    .and_then(|c| path_of(tid, &c, args).map(|(p, f)| (c.name, c.class, p, f)));
                self.pending.insert(
                    tid,
                    Pending {
                        nr,
                        arch: info.arch,
                        path,
                    },
                );
            }
            OP_EXIT => {
                let Some(p) = self.pending.remove(&tid) else {
                    return;
                };
                let rval = info.data[0] as i64;
                let errno = if info.data[1] as u8 != 0 { -rval } else { 0 };
                self.result(p, rval, errno as i32);
            }
            _ => {}
        }
    }

    fn result(&mut self, p: Pending, rval: i64, errno: i32) {
        let refused = matches!(errno, libc::EACCES | libc::EPERM | libc::EROFS);
        let Some((name, class, path, flags)) = p.path else {
            if refused {
                let line = format!("refused\t{}\t{}\t{}", p.arch, p.nr, errno_name(errno));
                self.emit(line);
            }
            return;
        };
        let path = escape(&path);
        let missing = matches!(errno, libc::ENOENT | libc::ENOTDIR);
        let line = if refused {
            format!("denied\t{name}\t{}\t{path}", errno_name(errno))
        } else if errno == 0 && rval >= 0 {
            match class {
                Class::Open => format!("open\t{:x}\t{path}", flags & SHOWN_FLAGS),
                Class::Exec => format!("exec\t{path}"),
                Class::Create | Class::Modify => format!("write\t{name}\t{path}"),
                Class::Lookup => return,
            }
        } else if missing {
            match class {
                Class::Open if flags & libc::O_CREAT as u64 != 0 => {
                    format!("noparent\t{name}\t{path}")
                }
                Class::Open | Class::Lookup | Class::Exec => format!("missing\t{name}\t{path}"),
                Class::Create => format!("noparent\t{name}\t{path}"),
                Class::Modify => return,
            }
        } else {
            return;
        };
        self.emit(line);
    }

    fn emit(&mut self, line: String) {
        let is_syscall = line.starts_with("syscall\t");
        if !is_syscall && self.events.len() >= MAX_EVENTS {
            return;
        }
        if is_syscall || self.events.insert(line.clone()) {
            let _ = writeln!(self.out, "{line}");
            self.dirty = true;
        }
    }
}

/// The open flags worth keeping: access mode, create, truncate, append, directory.
const SHOWN_FLAGS: u64 = (libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_DIRECTORY
    | libc::O_EXCL) as u64;

/// The call's path made absolute (against its dirfd or the tracee's cwd), and its open flags.
fn path_of(tid: i32, c: &Call, args: &[u64]) -> Option<(String, u64)> {
    let raw = read_string(tid, args[c.path])?;
    if raw.is_empty() {
        return None; // AT_EMPTY_PATH: the call works on an open descriptor
    }
    let flags = match c.flags {
        Flags::None => 0,
        Flags::Arg(i) => args[i],
        Flags::OpenHow(i) => read_u64(tid, args[i]).unwrap_or(0),
        Flags::Creat => (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
    };
    let full = if raw.starts_with('/') {
        raw
    } else {
        let base = match c.dirfd.map(|i| args[i] as i32) {
            None | Some(libc::AT_FDCWD) => std::fs::read_link(format!("/proc/{tid}/cwd")),
            Some(fd) => std::fs::read_link(format!("/proc/{tid}/fd/{fd}")),
        }
        .ok()?;
        format!("{}/{raw}", base.to_string_lossy())
    };
    Some((normalize(&full), flags))
}

/// Lexical clean-up: `//`, `.` and `..` (the trace names paths, it does not resolve links).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

/// Reads a NUL-terminated string from the tracee, page by page (a string may end just before
/// an unmapped page).
fn read_string(tid: i32, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < PATH_MAX {
        let to_page_end = 4096 - (at % 4096) as usize;
        let mut buf = vec![0u8; to_page_end.min(PATH_MAX - out.len())];
        let n = read_mem(tid, at, &mut buf)?;
        if let Some(end) = buf[..n].iter().position(|b| *b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    None
}

fn read_u64(tid: i32, addr: u64) -> Option<u64> {
    let mut buf = [0u8; 8];
    (read_mem(tid, addr, &mut buf)? == 8).then(|| u64::from_ne_bytes(buf))
}

/// process_vm_readv, else word by word with PTRACE_PEEKDATA (which works for the tracer even
/// where the access check of process_vm_readv does not).
fn read_mem(tid: i32, addr: u64, buf: &mut [u8]) -> Option<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: one local iovec over `buf`, one remote range; the kernel checks the remote side.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n > 0 {
        return Some(n as usize);
    }
    let word = std::mem::size_of::<libc::c_long>();
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: PEEKDATA reads one word of the stopped tracee; errors come back through errno.
        unsafe { *libc::__errno_location() = 0 };
        let v = unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, tid, addr + done as u64, 0) };
        if v == -1 && std::io::Error::last_os_error().raw_os_error() != Some(0) {
            break;
        }
        let bytes = v.to_ne_bytes();
        let take = word.min(buf.len() - done);
        buf[done..done + take].copy_from_slice(&bytes[..take]);
        done += take;
    }
    (done > 0).then_some(done)
}

/// A stop with no signal information is a group stop (SIGSTOP/SIGTSTP acted on), not a signal
/// to deliver.
fn is_group_stop(tid: i32) -> bool {
    // SAFETY: siginfo_t is plain data; GETSIGINFO fills it or fails.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid, 0, &mut si) };
    rc < 0
}

fn resume(tid: i32, sig: i32) {
    // SAFETY: restarts our stopped tracee; ESRCH (it died meanwhile) is fine.
    unsafe { libc::ptrace(libc::PTRACE_SYSCALL, tid, 0, sig as libc::c_long) };
}

fn sys_check(rc: libc::c_long) -> std::io::Result<()> {
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The AUDIT_ARCH value of this build's architecture: the trace's system call numbers are in
/// its table.
pub fn native_arch() -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        0xc000_003e
    }
    #[cfg(target_arch = "aarch64")]
    {
        0xc000_00b7
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EROFS => "EROFS",
        _ => "E?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_lexically() {
        assert_eq!(
            normalize("/srv/app/./lib/../conf//a.conf"),
            "/srv/app/conf/a.conf"
        );
        assert_eq!(normalize("/../x"), "/x");
        assert_eq!(escape("a\tb\nc\\"), "a\\tb\\nc\\\\");
    }

    #[test]
    fn calls_know_where_their_path_is() {
        let open = call(libc::SYS_openat).unwrap();
        assert_eq!(
            (open.class, open.dirfd, open.path),
            (Class::Open, Some(0), 1)
        );
        let rename = call(libc::SYS_renameat2).unwrap();
        assert_eq!((rename.class, rename.path), (Class::Create, 3));
        assert!(call(libc::SYS_read).is_none());
    }
}
