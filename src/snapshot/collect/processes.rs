//! Every user-space process, read through procfs in parallel.
//!
//! Processes come and go while we look. Each is read through one directory descriptor of
//! `/proc/PID` (procfs's `Process`), so a pid reused mid-scan can never mix two processes; a
//! process that exits is dropped with a warning, and what one may not read (another user's
//! environment, pid 1's exe on some sandboxes) is listed in its `unreadable`, not treated as
//! failure.

use super::CollectOptions;
use crate::findings::Finding;
use crate::snapshot::{OpenFile, Process};
use procfs::process::{Limit, LimitValue, Limits, MMapPath, Process as Proc};
use procfs::ProcError;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::sync::mpsc;

/// `PF_KTHREAD` in `/proc/PID/stat` flags: the kernel's own mark, surer than an empty cmdline.
const PF_KTHREAD: u32 = 0x0020_0000;
const DELETED: &str = " (deleted)";

/// `Process::limits`: soft and hard by kernel name, `None` = unlimited.
type LimitMap = BTreeMap<String, (Option<u64>, Option<u64>)>;

pub fn read_all(
    opts: &CollectOptions,
    progress: &dyn Fn(usize, usize),
    findings: &mut Vec<Finding>,
) -> Vec<Process> {
    let pids = match list_pids() {
        Ok(pids) => pids,
        Err(e) => {
            findings.push(Finding::error(
                "/proc",
                format!("cannot list processes: {e}"),
            ));
            return Vec::new();
        }
    };
    let total = pids.len();
    let (tx, rx) = mpsc::channel::<()>();
    // Workers run on rayon's pool; `progress` need not be Sync, so it is called only here, as
    // workers report.
    let outcomes = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            pids.par_iter()
                .map_with(tx, |tx, &pid| {
                    let outcome = read_one(pid, opts);
                    let _ = tx.send(());
                    outcome
                })
                .collect::<Vec<_>>()
        });
        for done in 1..=total {
            if rx.recv().is_err() {
                break;
            }
            progress(done, total);
        }
        worker.join()
    });
    let outcomes = outcomes.unwrap_or_else(|_| {
        findings.push(Finding::error(
            "/proc",
            "process scan aborted by an internal error",
        ));
        Vec::new()
    });
    let mut processes = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Outcome::Kept(process, notes) => {
                processes.push(*process);
                findings.extend(notes);
            }
            Outcome::Skipped(note) => findings.extend(note),
        }
    }
    processes
}

/// `Pss:   1234 kB` → 1234.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Thread-group ids under `/proc`, ascending.
fn list_pids() -> io::Result<Vec<i32>> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

enum Outcome {
    Kept(Box<Process>, Vec<Finding>),
    /// Kernel threads and zombies silently; vanished or unreadable processes with a finding.
    Skipped(Option<Finding>),
}

/// The process exited between listing and reading.
struct Gone;

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("permission denied")]
    Denied,
    #[error("not available")]
    Missing,
    #[error("{0}")]
    Other(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::PermissionDenied => ReadError::Denied,
            io::ErrorKind::NotFound => ReadError::Missing,
            _ if e.raw_os_error() == Some(libc::ESRCH) => ReadError::Missing,
            _ => ReadError::Other(e.to_string()),
        }
    }
}

impl From<ProcError> for ReadError {
    fn from(e: ProcError) -> Self {
        match e {
            ProcError::PermissionDenied(_) => ReadError::Denied,
            ProcError::NotFound(_) => ReadError::Missing,
            ProcError::Io(e, _) => e.into(),
            other => ReadError::Other(other.to_string()),
        }
    }
}

fn subject(pid: i32) -> String {
    format!("pid {pid}")
}

fn read_one(pid: i32, opts: &CollectOptions) -> Outcome {
    let exited = || {
        Outcome::Skipped(Some(Finding::warning(
            subject(pid),
            "exited during the scan",
        )))
    };
    let proc = match Proc::new(pid) {
        Ok(p) => p,
        Err(e) => {
            return match ReadError::from(e) {
                ReadError::Missing => exited(),
                e => Outcome::Skipped(Some(Finding::warning(
                    subject(pid),
                    format!("skipped, /proc/{pid} unreadable: {e}"),
                ))),
            }
        }
    };
    let mut reader = Reader {
        proc,
        unreadable: Vec::new(),
        notes: Vec::new(),
    };
    match reader.process(opts) {
        Ok(Some(process)) => Outcome::Kept(Box::new(process), reader.notes),
        Ok(None) => Outcome::Skipped(None),
        Err(Gone) => exited(),
    }
}

/// One process being read: collects what could not be read and findings along the way.
struct Reader {
    proc: Proc,
    unreadable: Vec<String>,
    notes: Vec<Finding>,
}

impl Reader {
    /// `Ok(None)` for processes that are not applications: kernel threads and zombies.
    fn process(&mut self, opts: &CollectOptions) -> Result<Option<Process>, Gone> {
        let pid = self.proc.pid();
        // stat and status are what make a process at all: without them it is skipped.
        let Some(stat) = self.get("stat", self.proc.stat().map_err(Into::into))? else {
            return self.unusable("stat");
        };
        let is_kernel = stat.flags & PF_KTHREAD != 0 || pid == 2 || stat.ppid == 2;
        if is_kernel || matches!(stat.state, 'Z' | 'X') {
            return Ok(None);
        }
        let Some(status) = self.get("status", self.proc.status().map_err(Into::into))? else {
            return self.unusable("status");
        };
        let cgroup = self.text("cgroup")?.unwrap_or_default();
        let environ = if opts.include_environ {
            self.nul_separated("environ")?.unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut process = Process {
            pid,
            ppid: stat.ppid,
            comm: stat.comm.clone(),
            exe: self.exe()?,
            cmdline: self.nul_separated("cmdline")?.unwrap_or_default(),
            cwd: self.link("cwd", self.proc.cwd().map_err(Into::into))?,
            environ,
            uids: [status.ruid, status.euid, status.suid, status.fuid],
            gids: [status.rgid, status.egid, status.sgid, status.fgid],
            groups: status.groups.clone(),
            unit: unit_from_cgroup(&cgroup),
            cgroup,
            start_time: stat.starttime,
            fds: self.fds()?,
            maps: self.maps()?,
            limits: self.limits()?,
            cap_eff: status.capeff,
            usage: self.usage(&stat, &status),
            unreadable: Vec::new(),
            declared: None,
        };
        // A process that exits mid-read leaves empty cmdline or maps rather than errors, and the
        // fds, read by path, could belong to a newer process reusing the pid. If ours lives still,
        // neither happened.
        if !self.alive() {
            return Err(Gone);
        }
        process.unreadable = std::mem::take(&mut self.unreadable);
        Ok(Some(process))
    }

    /// Memory and CPU so far. RSS and CPU come with stat and status; PSS needs `smaps_rollup`
    /// (Linux 4.14+, ptrace access), so it may be missing where the rest is not.
    fn usage(
        &self,
        stat: &procfs::process::Stat,
        status: &procfs::process::Status,
    ) -> crate::snapshot::Usage {
        let ticks = procfs::ticks_per_second().max(1);
        let ms = |t: u64| t.saturating_mul(1000) / ticks;
        // Read quietly: without it the sizing falls back on RSS, nothing worth a finding.
        let mut rollup = String::new();
        let pss_kib = self
            .proc
            .open_relative("smaps_rollup")
            .and_then(|mut f| Ok(f.read_to_string(&mut rollup)?))
            .ok()
            .and_then(|_| kib_field(&rollup, "Pss:"))
            .unwrap_or(0);
        let age_ms = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0, |up| {
                ((up * 1000.0) as u64).saturating_sub(ms(stat.starttime))
            });
        crate::snapshot::Usage {
            rss_kib: status.vmrss.unwrap_or(0),
            pss_kib,
            cpu_ms: ms(stat.utime + stat.stime),
            age_ms,
        }
    }

    fn unusable(&mut self, what: &str) -> Result<Option<Process>, Gone> {
        let pid = self.proc.pid();
        let why = self.unreadable.join(", ");
        self.notes.push(Finding::warning(
            subject(pid),
            format!("skipped, its {what} is unreadable ({why})"),
        ));
        Ok(None)
    }

    /// Sorts a failed read into "the process is gone" (which aborts it) or "this part is
    /// unreadable" (noted, the rest goes on). A missing file may also mean a process whose main
    /// thread exited, so absence counts as exit only once the process itself is gone.
    fn get<T>(&mut self, what: &str, result: Result<T, ReadError>) -> Result<Option<T>, Gone> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(ReadError::Missing) if !self.alive() => Err(Gone),
            Err(e) => {
                self.unreadable.push(format!("{what}: {e}"));
                Ok(None)
            }
        }
    }

    fn alive(&self) -> bool {
        self.proc.is_alive()
    }

    fn raw(&mut self, name: &str) -> Result<Option<Vec<u8>>, Gone> {
        let read = || -> Result<Vec<u8>, ReadError> {
            let mut buf = Vec::new();
            self.proc.open_relative(name)?.read_to_end(&mut buf)?;
            Ok(buf)
        };
        let result = read();
        self.get(name, result)
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, Gone> {
        Ok(self
            .raw(name)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// cmdline and environ, read raw rather than through procfs: its parsers drop empty
    /// arguments and reorder the environment, and both matter when replaying a command.
    fn nul_separated(&mut self, name: &str) -> Result<Option<Vec<String>>, Gone> {
        Ok(self.raw(name)?.map(|bytes| split_nul(&bytes)))
    }

    fn link(
        &mut self,
        what: &str,
        r: Result<std::path::PathBuf, ReadError>,
    ) -> Result<Option<String>, Gone> {
        Ok(self.get(what, r)?.map(|p| p.to_string_lossy().into_owned()))
    }

    /// The executable, with the kernel's " (deleted)" mark removed: the path is still where the
    /// binary belongs, and the finding says the file there is no longer the one running.
    fn exe(&mut self) -> Result<Option<String>, Gone> {
        let exe = self.proc.exe().map_err(Into::into);
        let Some(exe) = self.link("exe", exe)? else {
            return Ok(None);
        };
        let pid = self.proc.pid();
        if exe.starts_with("/memfd:") {
            // Kept as the kernel wrote it: there is no path to strip back to.
            self.notes.push(Finding::warning(
                subject(pid),
                "runs an in-memory executable (memfd) with no file on disk",
            ));
            return Ok(Some(exe));
        }
        Ok(Some(match exe.strip_suffix(DELETED) {
            Some(path) => {
                self.notes.push(Finding::warning(
                    subject(pid),
                    format!("runs {path}, which was deleted or replaced on disk since it started"),
                ));
                path.to_string()
            }
            None => exe,
        }))
    }

    /// Read by path rather than through procfs's `fd()`, which skips every descriptor it cannot
    /// read without a word (all of them for pid 1 on this sandbox) and any non-UTF-8 target.
    fn fds(&mut self) -> Result<Vec<OpenFile>, Gone> {
        let dir = format!("/proc/{}/fd", self.proc.pid());
        let listing = std::fs::read_dir(&dir).map_err(ReadError::from);
        let Some(listing) = self.get("fds", listing)? else {
            return Ok(Vec::new());
        };
        let mut fds = Vec::new();
        let (mut denied, mut other) = (0, None);
        for entry in listing.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            match std::fs::read_link(entry.path()).map_err(ReadError::from) {
                Ok(target) => fds.push(OpenFile {
                    fd,
                    target: target.to_string_lossy().into_owned(),
                    flags: self.fd_flags(fd),
                }),
                // Closed between listing and reading: simply no longer open.
                Err(ReadError::Missing) => {}
                // Some sandboxes refuse each link even though the directory lists.
                Err(ReadError::Denied) => denied += 1,
                Err(ReadError::Other(e)) => other = Some(e),
            }
        }
        if denied > 0 {
            self.unreadable
                .push(format!("fds: permission denied for {denied} descriptors"));
        }
        if let Some(e) = other {
            self.unreadable.push(format!("fds: {e}"));
        }
        fds.sort_by_key(|f| f.fd);
        Ok(fds)
    }

    /// The open flags of one descriptor (`flags:` in `/proc/PID/fdinfo/FD`, octal): whether a
    /// file is written is what tells state from configuration. `None` when unreadable.
    fn fd_flags(&self, fd: i32) -> Option<u32> {
        let mut text = String::new();
        self.proc
            .open_relative(format!("fdinfo/{fd}"))
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        parse_fdinfo_flags(&text)
    }

    fn maps(&mut self) -> Result<Vec<String>, Gone> {
        let maps = self.proc.maps().map_err(Into::into);
        let Some(maps) = self.get("maps", maps)? else {
            return Ok(Vec::new());
        };
        let (paths, deleted) = mapped_files(maps.0.iter().map(|m| &m.pathname));
        if !deleted.is_empty() {
            let list: Vec<&str> = deleted.iter().map(String::as_str).collect();
            self.notes.push(Finding::warning(
                subject(self.proc.pid()),
                format!(
                    "maps files deleted or replaced on disk since they were loaded: {}",
                    list.join(", ")
                ),
            ));
        }
        Ok(paths.into_iter().collect())
    }

    fn limits(&mut self) -> Result<LimitMap, Gone> {
        let limits = self.proc.limits().map_err(Into::into);
        Ok(self
            .get("limits", limits)?
            .map(limits_by_name)
            .unwrap_or_default())
    }
}

fn parse_fdinfo_flags(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Distinct real file paths among mappings, and those of them the kernel marks as deleted. The
/// kernel's names for anonymous shared memory (`/dev/zero`, `/SYSV…`, `/[aio]`) and memfds name no
/// file an image could hold.
fn mapped_files<'a>(
    names: impl Iterator<Item = &'a MMapPath>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut paths = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    for name in names {
        let MMapPath::Path(p) = name else { continue };
        let raw = p.to_string_lossy();
        let (path, was_deleted) = match raw.strip_suffix(DELETED) {
            Some(path) => (path, true),
            None => (raw.as_ref(), false),
        };
        let pseudo = !path.starts_with('/')
            || path.starts_with("/memfd:")
            || path.starts_with("/[")
            || path.starts_with("/SYSV")
            || path == "/dev/zero";
        if pseudo {
            continue;
        }
        if was_deleted {
            deleted.insert(path.to_string());
        }
        paths.insert(path.to_string());
    }
    (paths, deleted)
}

/// Limits under the names `/proc/PID/limits` prints, which is what people grep for and what
/// systemd's `Limit*=` documentation maps from.
fn limits_by_name(l: Limits) -> LimitMap {
    let table: [(&str, &Limit); 16] = [
        ("Max cpu time", &l.max_cpu_time),
        ("Max file size", &l.max_file_size),
        ("Max data size", &l.max_data_size),
        ("Max stack size", &l.max_stack_size),
        ("Max core file size", &l.max_core_file_size),
        ("Max resident set", &l.max_resident_set),
        ("Max processes", &l.max_processes),
        ("Max open files", &l.max_open_files),
        ("Max locked memory", &l.max_locked_memory),
        ("Max address space", &l.max_address_space),
        ("Max file locks", &l.max_file_locks),
        ("Max pending signals", &l.max_pending_signals),
        ("Max msgqueue size", &l.max_msgqueue_size),
        ("Max nice priority", &l.max_nice_priority),
        ("Max realtime priority", &l.max_realtime_priority),
        ("Max realtime timeout", &l.max_realtime_timeout),
    ];
    let value = |v: &LimitValue| match v {
        LimitValue::Unlimited => None,
        LimitValue::Value(n) => Some(*n),
    };
    table
        .into_iter()
        .map(|(name, l)| {
            (
                name.to_string(),
                (value(&l.soft_limit), value(&l.hard_limit)),
            )
        })
        .collect()
}

/// The systemd unit a process belongs to, from the text of `/proc/PID/cgroup`: the last
/// `*.service` component of its path in the unified hierarchy, or else in the `name=systemd` one
/// (cgroup v1 and hybrid hosts, where the unified line may just read `0::/`). Scopes (sessions,
/// containers started by hand) are no unit to reproduce, so a scope outside any service is `None`.
pub fn unit_from_cgroup(text: &str) -> Option<String> {
    let paths = |wanted: &str| {
        text.lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                (controllers == wanted).then_some(path)
            })
            .collect::<Vec<_>>()
    };
    paths("")
        .into_iter()
        .chain(paths("name=systemd"))
        .find_map(|path| {
            path.rsplit('/')
                .find(|c| c.ends_with(".service") && c.len() > ".service".len())
                .map(String::from)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn fdinfo_flags_are_octal() {
        let text = "pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t1234\n";
        assert_eq!(parse_fdinfo_flags(text), Some(0o100002));
        let f = OpenFile {
            fd: 3,
            target: "/x".into(),
            flags: parse_fdinfo_flags(text),
        };
        assert!(f.writes() && !f.appends());
        assert_eq!(parse_fdinfo_flags("pos: 0\n"), None);
        assert_eq!(parse_fdinfo_flags("flags:\tzz\n"), None);
    }

    #[test]
    fn nul_split_keeps_empty_arguments() {
        assert_eq!(split_nul(b"sh\0-c\0\0"), vec!["sh", "-c", ""]);
        assert_eq!(split_nul(b""), Vec::<String>::new());
        assert_eq!(
            split_nul(b"nginx: master process"),
            vec!["nginx: master process"]
        );
    }

    #[test]
    fn maps_keep_real_files_and_note_deleted_ones() {
        let names = [
            MMapPath::Path(PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6")),
            MMapPath::Path(PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6")),
            MMapPath::Path(PathBuf::from("/usr/lib/libold.so (deleted)")),
            MMapPath::Path(PathBuf::from("/dev/zero (deleted)")),
            MMapPath::Path(PathBuf::from("/memfd:jit (deleted)")),
            MMapPath::Path(PathBuf::from("/[aio] (deleted)")),
            MMapPath::Heap,
            MMapPath::Vdso,
            MMapPath::Anonymous,
        ];
        let (paths, deleted) = mapped_files(names.iter());
        assert_eq!(
            paths.into_iter().collect::<Vec<_>>(),
            vec!["/usr/lib/libold.so", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
        );
        assert_eq!(
            deleted.into_iter().collect::<Vec<_>>(),
            vec!["/usr/lib/libold.so"]
        );
    }
}
