//! liftkit never changes the host it inspects: nothing outside the output directory is written,
//! created, renamed or has its times changed. Proven three ways against a live nginx and redis:
//! every file syscall of a traced lift is audited; the metadata and content of every path the
//! run touched are compared before and after a second run (access times planted old so a
//! `relatime` mount would update them); and the whole pipeline runs in a mount namespace where
//! everything but the output directory is read-only.

use crate::common;
use crate::safety_common;

use common::*;
use safety_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where liftkit may write; everything else is the host's.
fn inside(path: &Path, out: &Path) -> bool {
    path.starts_with(out)
}

/// Pseudo filesystems: no contents to change, and their times are the kernel's.
fn pseudo(path: &Path) -> bool {
    ["/proc", "/sys", "/dev"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// One traced file syscall: its name, its path arguments, the open flags if any, and its result.
#[derive(Debug)]
struct Call {
    pid: u32,
    line: String,
    name: String,
    dirfd_relative: bool,
    paths: Vec<PathBuf>,
    flags: String,
    failed_eperm: bool,
}

/// Parses `strace -f -e trace=%file` output (with `<unfinished ...>` splits: the path and flags
/// are always on the first half).
fn parse_trace(text: &str, cwd: &Path) -> Vec<Call> {
    let mut calls = Vec::new();
    for line in text.lines() {
        let rest = line
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        if rest.starts_with("<...") || rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        let Some(open) = rest.find('(') else { continue };
        let name = rest[..open].to_string();
        let args = &rest[open + 1..];
        let mut dirfd_relative = (name.ends_with("at") || name.ends_with("at2") || name == "statx")
            && !args.starts_with("AT_FDCWD")
            && args.chars().next().is_some_and(|c| c.is_ascii_digit());
        // `strace -y` shows the directory a descriptor names: `3</tmp/out/dir>`.
        let dirfd_path = dirfd_relative
            .then(|| {
                let rest = args.trim_start_matches(|c: char| c.is_ascii_digit());
                let inner = rest.strip_prefix('<')?;
                Some(PathBuf::from(&inner[..inner.find('>')?]))
            })
            .flatten();
        if dirfd_path.is_some() {
            dirfd_relative = false;
        }
        let mut paths = Vec::new();
        let mut chars = args.char_indices().peekable();
        // Quoted strings are the path arguments (strace escapes quotes inside them).
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut s = String::new();
            let mut escaped = false;
            for (_, c) in chars.by_ref() {
                match (escaped, c) {
                    (true, c) => {
                        s.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (false, c) => s.push(c),
                }
            }
            let _ = i;
            paths.push(PathBuf::from(&s));
        }
        // Which quoted arguments are paths: execve's argv, readlink's and getxattr's buffers
        // and a symlink's target text are not.
        let (skip, take) = match name.as_str() {
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => (0, 2),
            "symlink" | "symlinkat" => (1, 1),
            _ => (0, 1),
        };
        let paths: Vec<PathBuf> = paths
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|p| match &dirfd_path {
                Some(dir) if !p.is_absolute() => dir.join(p),
                _ if p.is_absolute() || dirfd_relative => p,
                _ => cwd.join(p),
            })
            .collect();
        let flags = args
            .split(", ")
            .find(|a| a.starts_with("O_"))
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let pid = line
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        calls.push(Call {
            pid,
            line: line.to_string(),
            name,
            dirfd_relative,
            paths,
            flags,
            failed_eperm: line.contains("= -1 EPERM"),
        });
    }
    calls
}

/// Who is who in a `strace -f` trace, from its process calls.
struct Processes {
    /// liftkit itself: the traced program and its threads (rayon's), which read the host.
    liftkit: BTreeSet<u32>,
    /// The container engine (podman, and everything it starts: conmon, runc, the trial's
    /// container): liftkit runs it with a state of its own under the output directory, and the
    /// paths its children name are the container's, not the host's. An `execve` of podman makes
    /// a process the engine's, and so are its children.
    engine: BTreeSet<u32>,
}

fn processes(text: &str) -> Processes {
    let mut liftkit = BTreeSet::new();
    let mut engine = BTreeSet::new();
    // A clone's flags are on its first half, its child on the resumed half.
    let mut thread_pending: BTreeSet<u32> = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.splitn(2, ' ');
        let Some(pid) = words.next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if liftkit.is_empty() {
            liftkit.insert(pid);
        }
        let rest = words.next().unwrap_or("").trim_start();
        if let Some(args) = rest.strip_prefix("execve(\"") {
            let program = args.split('"').next().unwrap_or("");
            if Path::new(program).file_name() == Some(std::ffi::OsStr::new("podman")) {
                engine.insert(pid);
            }
            continue;
        }
        let starts = ["clone(", "clone3(", "fork(", "vfork("]
            .iter()
            .any(|c| rest.starts_with(c));
        let resumed = ["<... clone", "<... fork", "<... vfork"]
            .iter()
            .any(|c| rest.starts_with(c));
        if starts && rest.contains("CLONE_THREAD") {
            thread_pending.insert(pid);
        }
        if !(starts || resumed) || rest.ends_with("<unfinished ...>") {
            continue;
        }
        let thread = thread_pending.remove(&pid);
        let Some(child) = rest
            .rsplit(" = ")
            .next()
            .and_then(|r| r.split_whitespace().next())
            .and_then(|c| c.parse::<u32>().ok())
        else {
            continue;
        };
        if engine.contains(&pid) {
            engine.insert(child);
        } else if thread && liftkit.contains(&pid) {
            liftkit.insert(child);
        }
    }
    Processes { liftkit, engine }
}

/// Every podman the run started keeps its state under `out` (`--root` there): the machine's
/// image store, container list and event log are not the run's to change.
fn podman_runs_outside(text: &str, out: &Path) -> Vec<String> {
    let root = format!("\"--root\", \"{}", out.display());
    text.lines()
        .filter(|l| l.contains("execve(\"") && l.contains("podman\", [") && l.contains(" = 0"))
        .filter(|l| !l.contains(&root))
        .map(|l| l.chars().take(400).collect())
        .collect()
}

const WRITING_CALLS: &[&str] = &[
    "mkdir",
    "mkdirat",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "rmdir",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "chmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchownat",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "truncate",
    "creat",
    "mknod",
    "mknodat",
    "setxattr",
    "lsetxattr",
    "removexattr",
    "lremovexattr",
    "mount",
    "umount2",
    "chroot",
    "pivot_root",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
];

fn writes(c: &Call) -> bool {
    let name = c.name.as_str();
    WRITING_CALLS.contains(&name)
        || ((name == "open" || name == "openat" || name == "openat2")
            && ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
                .iter()
                .any(|f| c.flags.contains(f)))
}

/// The dynamic loader's own work for liftkit at exec (ld.so.cache, liftkit's libraries along
/// LD_LIBRARY_PATH): ld.so does not ask for O_NOATIME, and these are liftkit's files, not the
/// applications'. It ends at the first open of anything else.
fn loader_phase(calls: &[Call]) -> usize {
    let loaderish = |p: &Path| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let lib = name
            .split(".so")
            .nth(1)
            .is_some_and(|v| v.chars().all(|c| c == '.' || c.is_ascii_digit()));
        p.to_string_lossy().starts_with("/etc/ld.so.")
            || lib
            || p == Path::new(env!("CARGO_BIN_EXE_liftkit"))
    };
    calls
        .iter()
        .position(|c| c.name.starts_with("open") && !c.paths.iter().all(|p| loaderish(p)))
        .unwrap_or(calls.len())
}

/// Paths other processes on this machine change all the time (builds, other tests, podman):
/// their times and sizes say nothing about liftkit, whose own syscalls are audited instead.
fn shared_with_others(path: &Path) -> bool {
    const DIRS: &[&str] = &[
        "/",
        "/tmp",
        "/var/tmp",
        "/root",
        "/work",
        "/var/lib/containers",
    ];
    DIRS.iter().any(|d| path == Path::new(d))
        || path.starts_with("/var/lib/containers")
        || path.starts_with("/root/.local/share/containers")
}

fn lift(out: &Path, cwd: &Path, pids: &[i32], trace: Option<&Path>, extra: &[&str]) -> Output {
    let mut cmd = match trace {
        Some(t) => {
            let mut c = Command::new("strace");
            c.args([
                "-f",
                "-qq",
                "-y",
                "-s",
                "4096",
                "-e",
                "trace=%file,%process",
                "-e",
                "signal=none",
                "-o",
            ])
            .arg(t)
            .arg(env!("CARGO_BIN_EXE_liftkit"));
            c
        }
        None => liftkit(),
    };
    cmd.current_dir(cwd)
        .env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
        .arg("lift")
        .args(extra);
    for p in pids {
        cmd.args(["--pid", &p.to_string()]);
    }
    cmd.arg("-o").arg(out);
    run_ok(&mut cmd)
}

#[test]
fn a_lift_writes_nothing_outside_its_output_and_leaves_every_time_as_it_was() {
    let dir = public_tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("www/sub")).unwrap();
    std::fs::write(d.join("www/sub/page.html"), "deep page\n").unwrap();
    std::fs::write(d.join("www/index.html"), "home\n").unwrap();
    std::os::unix::fs::symlink("sub/page.html", d.join("www/alias.html")).unwrap();
    let nginx = start_nginx(d, free_port());
    let redis_port = free_port();
    let redis_daemon = start_redis(d, redis_port);
    assert!(redis(redis_port, &["SET", "k", "v"]).starts_with("+OK"));
    assert!(redis(redis_port, &["SAVE"]).starts_with("+OK"));
    let pids = [nginx.pid(), redis_daemon.pid()];
    let cwd = d.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();

    // Run 1, traced: which paths does a lift touch, and how?
    let trace = d.join("trace.txt");
    let out1 = d.join("out1");
    lift(&out1, &cwd, &pids, Some(&trace), &[]);
    let text = std::fs::read_to_string(&trace).unwrap();
    let procs = processes(&text);
    let engine = &procs.engine;
    assert!(
        !engine.is_empty(),
        "the lift ran its trial in the engine (podman in the trace)"
    );
    let outside = podman_runs_outside(&text, &out1);
    assert!(
        outside.is_empty(),
        "podman run with the machine's own state:\n{}",
        outside.join("\n")
    );
    let calls: Vec<Call> = parse_trace(&text, &cwd)
        .into_iter()
        .filter(|c| !engine.contains(&c.pid))
        .collect();
    assert!(
        calls.len() > 500,
        "the trace saw the run: {} calls",
        calls.len()
    );

    // Nothing outside the output directory is opened for writing, created, removed, renamed,
    // re-owned, re-moded or re-timed.
    let bad: Vec<&str> = calls
        .iter()
        .filter(|c| writes(c))
        .filter(|c| {
            c.dirfd_relative
                || c.paths
                    .iter()
                    .any(|p| !inside(p, &out1) && p != Path::new("/dev/null"))
        })
        .map(|c| c.line.as_str())
        .collect();
    assert!(
        bad.is_empty(),
        "writes outside the output:\n{}",
        bad.join("\n")
    );

    // Every host file read is opened with O_NOATIME, or without it only after the kernel
    // refused it (EPERM: a file root does not own, on a system without CAP_FOWNER).
    let loader = loader_phase(&calls);
    assert!(loader < 300, "the loader phase ends early: {loader}");
    let mut refused: BTreeSet<&Path> = BTreeSet::new();
    let mut without_noatime = Vec::new();
    for c in calls[loader..]
        .iter()
        .filter(|c| c.name.starts_with("open") && !writes(c) && procs.liftkit.contains(&c.pid))
    {
        let Some(p) = c.paths.first() else { continue };
        if c.dirfd_relative || c.flags.contains("O_PATH") || pseudo(p) || inside(p, &out1) {
            continue;
        }
        if c.flags.contains("O_NOATIME") {
            if c.failed_eperm {
                refused.insert(p);
            }
            continue;
        }
        if !refused.contains(p.as_path()) {
            without_noatime.push(c.line.as_str());
        }
    }
    assert!(
        without_noatime.is_empty(),
        "host files opened without O_NOATIME:\n{}",
        without_noatime.join("\n")
    );
    let noatime_opens = calls
        .iter()
        .filter(|c| c.flags.contains("O_NOATIME"))
        .count();
    assert!(
        noatime_opens > 50,
        "the audit saw the host being read: {noatime_opens} opens"
    );

    // The touched set: every path any file syscall named, outside the output and procfs.
    let touched: BTreeSet<PathBuf> = calls
        .iter()
        .filter(|c| !c.dirfd_relative)
        .flat_map(|c| c.paths.iter().cloned())
        .filter(|p| !pseudo(p) && !inside(p, &out1) && !p.starts_with(d.join("out2")))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    for must in [
        "nginx.conf",
        "www/index.html",
        "www/sub/page.html",
        "redis.conf",
        "data/dump.rdb",
    ] {
        assert!(
            touched.contains(&d.join(must)),
            "the run read {must}: it is in the touched set"
        );
    }
    assert!(touched.contains(Path::new("/usr/sbin/nginx")));

    // Planted: access times old enough that relatime would update them on any plain read,
    // on files and directories only this test's daemons and liftkit read.
    assert!(
        mount_updates_atime(d),
        "the test directory's mount must record access times"
    );
    let planted: Vec<PathBuf> = tree(d)
        .into_iter()
        .filter(|p| !p.starts_with(&out1) && !p.starts_with(&cwd) && *p != trace)
        .filter(|p| {
            !p.ends_with("error.log") && !p.ends_with("access.log") && !p.ends_with("redis.log")
        })
        .collect();
    for p in &planted {
        set_old_atime(p);
    }

    // Run 2: the same lift, untraced, between two records of everything it touched. Its
    // output directory exists beforehand, so the test directory itself must not change.
    let out2 = d.join("out2");
    std::fs::create_dir(&out2).unwrap();
    let watched: BTreeSet<PathBuf> = touched
        .iter()
        .cloned()
        .chain(planted.iter().cloned())
        .collect();
    let before: BTreeMap<&PathBuf, Option<State>> = watched.iter().map(|p| (p, state(p))).collect();
    // Without its trial: the trial asks the original daemons the same questions as the lifted
    // images to compare the answers, and the daemons then read their pages and write their
    // logs, as for any client. Run 1 audited the trial's every call; here the times are
    // liftkit's alone.
    lift(&out2, &cwd, &pids, None, &["--no-trial"]);
    let builds = tree(&out2)
        .into_iter()
        .filter(|p| p.ends_with("build.json"))
        .count();
    assert_eq!(builds, 2, "the second run built nginx and redis too");
    let mut changed = Vec::new();
    for (p, was) in &before {
        let now = state(p);
        let (Some(was), Some(now)) = (was, &now) else {
            if was != &now {
                changed.push(format!("{}: {was:?} → {now:?}", p.display()));
            }
            continue;
        };
        let mut was = was.clone();
        let now = now.clone();
        // Symlink access times move whenever anyone follows the link (the kernel touches them
        // in path lookup; no flag prevents it). Files others read (libraries, /etc) may get
        // their daily relatime update from another process during the run; liftkit's own opens
        // are proven O_NOATIME above. The planted ones only this test's processes read.
        if was.kind == libc::S_IFLNK || !planted.contains(*p) {
            was.atime = now.atime;
        }
        if shared_with_others(p) {
            (was.mtime, was.ctime, was.size) = (now.mtime, now.ctime, now.size);
        }
        // Every nginx master chowns its temporary directories to its worker user at start:
        // another test's nginx (user nobody, or www-data) may start while this lift runs.
        if p.starts_with("/var/lib/nginx") {
            (was.uid, was.gid, was.ctime) = (now.uid, now.gid, now.ctime);
        }
        if was != now {
            changed.push(format!(
                "{}:\n  before {was:?}\n  after  {now:?}",
                p.display()
            ));
        }
    }
    eprintln!(
        "{} paths touched by a lift of nginx and redis; {} access times planted; {} changed",
        touched.len(),
        planted.len(),
        changed.len()
    );
    assert!(
        changed.is_empty(),
        "changed by the run:\n{}",
        changed.join("\n")
    );
}

/// Runs `program args…` in a new mount namespace where every mount is read-only except `out`.
/// The script first proves the sandbox: a write next to `out` must fail, a write in it succeed.
fn in_readonly_world(out: &Path, program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    const SCRIPT: &str = r#"
set -eu
out=$1; shift
mount --make-rprivate /
mount --bind "$out" "$out"
# Every mount point, deepest last, remounted read-only (bind remount: per mount, not per fs).
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
  m=$(printf '%b' "$m")
  [ "$m" = "$out" ] && continue
  mount -o remount,bind,ro "$m" 2>/dev/null || echo "note: $m stays as it is" >&2
done
probe="$(dirname "$out")/.liftkit-rw-probe"
if touch "$probe" 2>/dev/null; then echo "sandbox broken: $probe is writable" >&2; rm -f "$probe"; exit 97; fi
if touch /.liftkit-rw-probe 2>/dev/null; then echo "sandbox broken: / is writable" >&2; exit 97; fi
touch "$out/.probe" && rm "$out/.probe" || { echo "sandbox broken: $out is not writable" >&2; exit 97; }
exec "$@"
"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", SCRIPT, "sh"])
        .arg(out)
        .arg(program)
        .args(args)
        .output()
        .expect("unshare");
    assert_ne!(
        out.status.code(),
        Some(97),
        "the read-only sandbox must hold:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn assert_finished(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed in the read-only world ({}):\n{err}",
        out.status
    );
    assert!(
        !err.contains("Read-only file system"),
        "{what} tried to write:\n{err}"
    );
}

#[test]
fn the_whole_pipeline_runs_with_everything_but_the_output_read_only() {
    let dir = public_tempdir();
    let d = dir.path();
    let nginx = start_nginx(d, free_port());
    let redis_daemon = start_redis(d, free_port());
    let pids = [nginx.pid().to_string(), redis_daemon.pid().to_string()];
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_liftkit"));
    let os = |s: &str| std::ffi::OsString::from(s);
    let path = |p: PathBuf| p.into_os_string();

    let snapshot = out.join("snapshot.json");
    let collect = [os("collect"), os("-o"), path(snapshot.clone())];
    let r = in_readonly_world(
        &out,
        &exe,
        &collect.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
    );
    assert_finished("collect", &r);
    assert!(snapshot.exists());

    let plan = out.join("plan.yaml");
    let analyze = [
        os("analyze"),
        path(snapshot.clone()),
        os("--pid"),
        os(&pids[0]),
        os("--pid"),
        os(&pids[1]),
        os("-o"),
        path(plan.clone()),
    ];
    let r = in_readonly_world(
        &out,
        &exe,
        &analyze.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
    );
    assert_finished("analyze", &r);
    let plan_text = std::fs::read_to_string(&plan).unwrap();
    assert!(plan_text.contains("/usr/sbin/nginx") && plan_text.contains("redis-server"));

    let built = out.join("built");
    let build = [
        os("build"),
        path(plan.clone()),
        os("-o"),
        path(built.clone()),
    ];
    let r = in_readonly_world(
        &out,
        &exe,
        &build.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
    );
    assert_finished("build", &r);

    let lifted = out.join("lifted");
    let lift = [
        os("lift"),
        os("--pid"),
        os(&pids[0]),
        os("--pid"),
        os(&pids[1]),
        os("-o"),
        path(lifted.clone()),
    ];
    let r = in_readonly_world(
        &out,
        &exe,
        &lift.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
    );
    assert_finished("lift", &r);

    for root in [&built, &lifted] {
        let images: Vec<PathBuf> = tree(root)
            .into_iter()
            // The apps' own images (redis's volume data has its own, under data-image/).
            .filter(|p| {
                p.ends_with("image.tar") && !p.parent().is_some_and(|d| d.ends_with("data-image"))
            })
            .collect();
        assert_eq!(
            images.len(),
            2,
            "nginx and redis images under {}",
            root.display()
        );
    }
    // The sandbox really held: the daemons' directory got nothing new from the runs.
    let stray: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".liftkit"))
        })
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
