//! A small image exercising what the writer must keep: a static busybox entrypoint, a setuid
//! file, a 0700 directory owned by uid 999, symlinks, a hard link, names past tar's 100 bytes,
//! and contents given as bytes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use liftkit::build::oci::{Entry, EntryKind, ImageConfig, Source};

pub const BUSYBOX: &str = "/bin/busybox";
/// 2023-11-14T22:13:20Z.
pub const CREATED: i64 = 1_700_000_000;

pub fn long_dir() -> String {
    format!("/opt/{}", "deep-directory-name/".repeat(6))
}

pub fn long_file() -> String {
    format!("{}file-with-a-long-name.txt", long_dir())
}

pub fn entry(path: &str, kind: EntryKind, mode: u32, uid: u32, gid: u32) -> Entry {
    Entry {
        path: PathBuf::from(path),
        kind,
        mode,
        uid,
        gid,
    }
}

pub fn bytes(data: &str) -> EntryKind {
    EntryKind::File(Source::Bytes(data.as_bytes().to_vec()))
}

/// The sample entries, deliberately unsorted and missing some parent directories.
pub fn sample_entries() -> Vec<Entry> {
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} missing: install Debian's busybox-static"
    );
    vec![
        entry("/var/lib/data/secret", bytes("s3cret\n"), 0o600, 999, 999),
        entry(
            "/bin/busybox",
            EntryKind::File(Source::Host(BUSYBOX.into())),
            0o755,
            0,
            0,
        ),
        entry("/bin", EntryKind::Dir, 0o755, 0, 0),
        entry("/bin/sh", EntryKind::Symlink("busybox".into()), 0o777, 0, 0),
        entry(
            "/usr/bin/setuid-tool",
            bytes("#!/bin/sh\necho hi\n"),
            0o4755,
            0,
            0,
        ),
        entry(
            "/usr/bin/tool-link",
            EntryKind::Hardlink("/usr/bin/setuid-tool".into()),
            0o4755,
            0,
            0,
        ),
        entry("/var/lib/data", EntryKind::Dir, 0o700, 999, 999),
        entry("/tmp", EntryKind::Dir, 0o1777, 0, 0),
        entry(&long_file(), bytes("long\n"), 0o644, 0, 0),
        entry(
            "/etc/long-link",
            EntryKind::Symlink(long_file().into()),
            0o777,
            0,
            0,
        ),
        entry("/etc/motd", bytes("lifted by liftkit\n"), 0o644, 0, 0),
    ]
}

pub fn sample_config(name: &str) -> ImageConfig {
    ImageConfig {
        name: name.to_string(),
        entrypoint: vec![BUSYBOX.into()],
        cmd: vec!["sh".into(), "-c".into(), "cat /etc/motd".into()],
        user: "0:0".into(),
        env: vec!["PATH=/bin:/usr/bin".into(), "LANG=C.UTF-8".into()],
        working_dir: "/".into(),
        exposed_ports: vec!["8080/tcp".into(), "53/udp".into(), "80/tcp".into()],
        volumes: vec!["/var/lib/data".into(), "/tmp".into()],
        stop_signal: Some("SIGQUIT".into()),
        labels: BTreeMap::from([
            ("org.opencontainers.image.title".into(), "sample".into()),
            ("io.liftkit.app".into(), "test".into()),
            ("b".into(), "2".into()),
        ]),
        annotations: BTreeMap::from([
            (
                "org.opencontainers.image.description".into(),
                "sample".into(),
            ),
            ("io.liftkit.plan".into(), "test".into()),
        ]),
        created: CREATED,
        history: "liftkit build (test)".into(),
    }
}

/// Whether a command-line tool is installed; tests that need a missing one say so and stop.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: `{tool}` is not installed; install it to run this test");
    }
    found
}

/// Runs a command, failing the test with its output if it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
