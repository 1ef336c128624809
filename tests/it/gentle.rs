//! liftkit is gentle with a production host: the verbs that read it run at nice 10 and at the
//! lowest best-effort I/O level unless told `--priority normal`, and every thread inherits it.
//! Observed from outside, in /proc and with ioprio_get, while liftkit runs.

use crate::common;

use common::*;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BE_LOWEST: i64 = (2 << 13) | 7;

/// Nice values of every thread of `pid` (field 19 of /proc/PID/task/TID/stat).
fn nice_of_threads(pid: u32) -> Vec<i64> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: fields count from its last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        out.push(fields[16].parse().unwrap());
    }
    out
}

fn ioprio_of(pid: u32) -> i64 {
    // SAFETY: integer-only syscall; IOPRIO_WHO_PROCESS = 1.
    unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid as libc::c_int) }
}

/// Waits until `child` has written to its stdout pipe (so its `run` has begun), unread.
fn wait_for_output(child: &mut Child) {
    let fd = child.stdout.as_ref().unwrap().as_raw_fd();
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 120_000) };
    assert_eq!(n, 1, "liftkit printed nothing within two minutes");
}

fn finish(mut child: Child) {
    let mut sink = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut sink).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

fn collect_json(nice: Option<&str>, extra: &[&str]) -> Child {
    let exe = env!("CARGO_BIN_EXE_liftkit");
    let mut cmd = match nice {
        Some(n) => {
            let mut c = Command::new("nice");
            c.args(["-n", n, exe]);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(["collect", "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

#[test]
fn collect_runs_at_low_cpu_and_io_priority_in_every_thread() {
    let mut child = collect_json(None, &[]);
    wait_for_output(&mut child);
    let nice = nice_of_threads(child.id());
    let ioprio = ioprio_of(child.id());
    finish(child);
    assert!(!nice.is_empty());
    assert!(
        nice.iter().all(|&n| n == 10),
        "every thread at nice 10: {nice:?}"
    );
    assert_eq!(ioprio, BE_LOWEST, "best-effort level 7");
}

#[test]
fn priority_normal_keeps_the_priority_it_was_given_and_low_never_raises_it() {
    let mut child = collect_json(None, &["--priority", "normal"]);
    wait_for_output(&mut child);
    let nice = nice_of_threads(child.id());
    let ioprio = ioprio_of(child.id());
    finish(child);
    assert!(nice.iter().all(|&n| n == 0), "{nice:?}");
    assert_ne!(ioprio, BE_LOWEST);

    let mut child = collect_json(Some("15"), &[]);
    wait_for_output(&mut child);
    let nice = nice_of_threads(child.id());
    finish(child);
    assert!(
        nice.iter().all(|&n| n == 15),
        "nice 15 is not raised to 10: {nice:?}"
    );
}

#[test]
fn analyze_runs_at_low_priority_before_it_reads_anything() {
    let dir = tempfile::tempdir().unwrap();
    // A recorded host with an application, so the run does not depend on what this machine runs.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/nginx");
    let snapshot = fixture.join("snapshot.json");
    // A FIFO as the snapshot: analyze blocks opening it, after setting its priority.
    let fifo = dir.path().join("fifo.json");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = liftkit()
        .arg("analyze")
        .arg(&fifo)
        .arg("--root")
        .arg(fixture.join("root"))
        .arg("-o")
        .arg(dir.path().join("plan.yaml"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Opening the write end without blocking succeeds only once the reader is there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let writer = loop {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
        {
            Ok(w) => break w,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("analyze never opened its snapshot: {e}"),
        }
    };
    let nice = nice_of_threads(child.id());
    let ioprio = ioprio_of(child.id());
    let mut writer = writer;
    // Back to blocking writes for the whole snapshot.
    // SAFETY: F_SETFL on an open descriptor.
    unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETFL, 0) };
    std::io::Write::write_all(&mut writer, &std::fs::read(&snapshot).unwrap()).unwrap();
    drop(writer);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "analyze finished: {:?}",
        out.status
    );
    assert!(nice.iter().all(|&n| n == 10), "{nice:?}");
    assert_eq!(ioprio, BE_LOWEST);
}
