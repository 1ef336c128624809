//! `scripts/setup.sh`, the README's one command for a machine that runs lifts: as root it
//! leaves podman ready and prints the engine settings this host needs, and those settings run
//! a container here; as anyone else, or with a wrong argument, it refuses in one line.

use crate::common::public_tempdir;
use std::path::Path;
use std::process::Command;

fn setup() -> Command {
    let mut c = Command::new("bash");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh"));
    c
}

/// The value of `export NAME="…"` in the script's output.
fn exported(stdout: &str, name: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        let v = l.trim().strip_prefix(&format!("export {name}=\""))?;
        Some(v.strip_suffix('"')?.to_string())
    })
}

#[test]
fn setup_leaves_podman_ready_and_its_settings_run_a_container() {
    let out = setup().output().expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ready: podman "), "{stdout}");
    // This machine has hybrid cgroups and hard limits below podman's defaults: the script must
    // say so, or run.sh and verify fail here with `error setting rlimit type 7`.
    let cgroup2 = Command::new("stat")
        .args(["-fc", "%T", "/sys/fs/cgroup"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "cgroup2fs")
        .unwrap_or(false);
    let engine = exported(&stdout, "ENGINE").unwrap_or_else(|| "podman".into());
    if !cgroup2 {
        assert_eq!(
            engine, "podman --runtime runc --cgroup-manager=cgroupfs",
            "{stdout}"
        );
    }
    let flags = exported(&stdout, "ENGINE_RUN_FLAGS").unwrap_or_default();

    // The settings as printed run a container (a static busybox as its whole root).
    let root = public_tempdir();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.path().join("bin/busybox")).expect("busybox-static");
    let run = Command::new("sh")
        .arg("-c")
        .arg(r#"$ENGINE run --rm $ENGINE_RUN_FLAGS --rootfs "$ROOTFS" /bin/busybox echo lifted"#)
        .env("ENGINE", &engine)
        .env("ENGINE_RUN_FLAGS", &flags)
        .env("ROOTFS", root.path())
        .output()
        .expect("sh");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "lifted",
        "ENGINE={engine:?} ENGINE_RUN_FLAGS={flags:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    // Idempotent: a second run installs nothing and says the same.
    let again = setup().output().expect("bash");
    let again_out = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(!again_out.contains("installing:"), "{again_out}");
    assert_eq!(again_out, stdout.replace(&installing_line(&stdout), ""));
}

fn installing_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with("installing:"))
        .map(|l| format!("{l}\n"))
        .unwrap_or_default()
}

#[test]
fn setup_refuses_a_user_and_a_wrong_argument_in_one_line() {
    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh"))
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&as_nobody.stderr);
    assert_eq!(as_nobody.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("run as root"), "{err}");

    let wrong = setup().arg("--hostimage").output().expect("bash");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{err}");
    assert_eq!(err.trim(), "usage: scripts/setup.sh [--host-image]");
    assert!(wrong.stdout.is_empty(), "nothing installed or printed");
}
