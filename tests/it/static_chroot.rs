//! The release binary, built statically (scripts/build-static.sh), runs on a machine with nothing
//! else: an empty chroot holding only the binary and a /proc. It must still take a snapshot.
//!
//! Costs one release build in a separate target directory (`<target>/static`), reused by later
//! runs; see the README for the time it takes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Unmounts when the test ends, pass or fail.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn build_static() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("static");
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-static.sh"
    ))
    .env("LIFTKIT_STATIC_TARGET_DIR", &target)
    .output()
    .expect("scripts/build-static.sh runs");
    assert!(
        out.status.success(),
        "static build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn static_binary_collects_in_an_empty_chroot() {
    let bin = build_static();
    let bytes = std::fs::read(&bin).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).expect("an ELF file");
    assert!(
        elf.interpreter.is_none(),
        "a static binary has no program interpreter"
    );
    assert!(
        elf.libraries.is_empty(),
        "a static binary needs no library: {:?}",
        elf.libraries
    );

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::copy(&bin, r.join("liftkit")).unwrap();
    std::fs::create_dir(r.join("proc")).unwrap();
    let status = Command::new("mount")
        .args(["--bind", "/proc"])
        .arg(r.join("proc"))
        .status()
        .unwrap();
    assert!(status.success(), "mount --bind /proc");
    let mounted = Mount(r.join("proc"));
    assert_eq!(
        std::fs::read_dir(r).unwrap().count(),
        2,
        "the chroot holds only liftkit and /proc"
    );

    let out = Command::new("/usr/sbin/chroot")
        .arg(r)
        .args(["/liftkit", "collect", "-o", "/snapshot.json"])
        .env_clear()
        .output()
        .unwrap();
    drop(mounted);
    assert!(
        out.status.success(),
        "collect in the chroot failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = liftkit::snapshot::load(&r.join("snapshot.json")).expect("a valid snapshot");
    assert!(
        snap.processes.len() > 1,
        "processes seen through /proc: {}",
        snap.processes.len()
    );
    assert!(
        snap.processes.iter().any(|p| p.exe.is_some()),
        "executables resolved"
    );
    assert!(!snap.host.kernel.is_empty(), "kernel from /proc");
    // No /etc in the chroot: no users, no packages, and findings that say so instead of failing.
    assert!(snap.packages.is_empty());
    assert!(!snap.findings.is_empty());
    assert!(!r.join("proc/self").exists(), "/proc is unmounted again");
}
