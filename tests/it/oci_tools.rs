//! The writer's output checked by the tools that consume it: skopeo, umoci and podman (with
//! runc). A missing tool is reported as SKIPPED on stderr, never passed silently.

use crate::oci_common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use liftkit::build::oci::{write_image, Written};
use oci_common::*;
use serde_json::Value;

const TAG: &str = "1.0";

fn build(out: &Path, name: &str) -> Written {
    let written = write_image(
        sample_entries(),
        &sample_config(name),
        &liftkit::host::live(),
        out,
    )
    .unwrap();
    assert!(written.warnings.is_empty(), "{:?}", written.warnings);
    written
}

fn skopeo_json(args: &[&str]) -> Value {
    serde_json::from_str(&run(Command::new("skopeo").args(args))).unwrap()
}

#[test]
fn skopeo_reads_archive_layout_and_docker_view() {
    if !have("skopeo") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let written = build(out.path(), &format!("localhost/liftkit/skopeo:{TAG}"));
    let archive = format!("oci-archive:{}", written.image_tar.display());
    let layout = format!("oci:{}:{TAG}", written.layout_dir.display());
    for reference in [&archive, &layout] {
        let inspect = skopeo_json(&["inspect", reference]);
        assert_eq!(
            inspect["Digest"],
            written.manifest_digest.as_str(),
            "{reference}"
        );
        assert_eq!(inspect["Layers"][0], written.layer_digest.as_str());
        assert_eq!(inspect["Architecture"], liftkit::build::oci::host_arch());
        assert_eq!(inspect["Labels"]["io.liftkit.app"], "test");
        let config = skopeo_json(&["inspect", "--config", reference]);
        assert_eq!(config["config"]["Entrypoint"][0], BUSYBOX);
        assert_eq!(config["config"]["User"], "0:0");
        assert_eq!(config["rootfs"]["diff_ids"][0], written.diff_id.as_str());
    }
    // The same file seen as `docker save` output, through manifest.json.
    let docker = format!("docker-archive:{}", written.image_tar.display());
    let config = skopeo_json(&["inspect", "--config", &docker]);
    assert_eq!(config["config"]["Entrypoint"][0], BUSYBOX);
    assert_eq!(config["rootfs"]["diff_ids"][0], written.diff_id.as_str());
}

#[test]
fn umoci_unpacks_with_modes_owners_and_links_kept() {
    if !have("umoci") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let written = build(&out.path().join("img"), "localhost/liftkit/umoci:1.0");
    let image = format!("{}:{TAG}", written.layout_dir.display());
    let rootless = out.path().join("rootless");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&rootless));
    let rootfs = rootless.join("rootfs");
    check_modes_and_links(&rootfs);

    // As root, umoci also restores owners; rootless it cannot.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (owner half): not root, umoci cannot restore owners");
        return;
    }
    let bundle = out.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    check_modes_and_links(&rootfs);
    for owned in ["var/lib/data", "var/lib/data/secret"] {
        let meta = fs::symlink_metadata(rootfs.join(owned)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (999, 999), "{owned}");
    }
    assert_eq!(
        fs::symlink_metadata(rootfs.join("usr/bin/setuid-tool"))
            .unwrap()
            .uid(),
        0
    );
}

fn check_modes_and_links(rootfs: &Path) {
    let mode = |p: &str| {
        fs::symlink_metadata(rootfs.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("var/lib/data"), 0o700);
    assert_eq!(mode("var/lib/data/secret"), 0o600);
    assert_eq!(mode("usr/bin/setuid-tool"), 0o4755);
    assert_eq!(mode("tmp"), 0o1777);
    let tool = fs::metadata(rootfs.join("usr/bin/setuid-tool")).unwrap();
    let link = fs::metadata(rootfs.join("usr/bin/tool-link")).unwrap();
    assert_eq!(
        (tool.ino(), tool.nlink()),
        (link.ino(), 2),
        "hard link kept"
    );
    assert_eq!(
        fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::read_link(rootfs.join("etc/long-link")).unwrap(),
        Path::new(&long_file())
    );
    assert_eq!(fs::read(rootfs.join(&long_file()[1..])).unwrap(), b"long\n");
    assert_eq!(
        fs::read(rootfs.join("bin/busybox")).unwrap(),
        fs::read(BUSYBOX).unwrap()
    );
}

/// Removes the loaded image even when an assertion fails.
struct Loaded(String);

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "--force", &self.0])
            .output();
    }
}

/// The invocation that works on this kind of host (crun does not; cgroups and limits are
/// constrained), with `args` after the image.
fn podman_run(image: &str, args: &[&str]) -> String {
    run(Command::new("podman")
        .args([
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--cgroup-manager=cgroupfs",
        ])
        .args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(["--network", "none", image])
        .args(args))
}

#[test]
fn podman_loads_and_runs_with_owners_and_modes_kept() {
    if !have("podman") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let name = format!("localhost/liftkit/podman-test-{}:{TAG}", std::process::id());
    let written = build(out.path(), &name);
    let loaded = run(Command::new("podman")
        .arg("load")
        .arg("-i")
        .arg(&written.image_tar));
    let _cleanup = Loaded(name.clone());
    assert!(
        loaded.contains(&format!("Loaded image: {name}")),
        "{loaded}"
    );

    // The configured entrypoint and cmd.
    assert_eq!(podman_run(&name, &[]), "lifted by liftkit\n");

    let listing = podman_run(
        &name,
        &["/bin/busybox", "ls", "-ln", "/var/lib", "/usr/bin"],
    );
    let line = |file: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!(" {file}")))
            .unwrap_or_else(|| panic!("{file} not listed:\n{listing}"))
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("data"), ["drwx------", "2", "999", "999"]);
    assert_eq!(line("setuid-tool"), ["-rwsr-xr-x", "2", "0", "0"]);
    assert_eq!(line("tool-link"), ["-rwsr-xr-x", "2", "0", "0"]);

    let stat = podman_run(
        &name,
        &[
            "/bin/busybox",
            "stat",
            "-c",
            "%a %u %g %n",
            "/var/lib/data/secret",
            "/tmp",
        ],
    );
    assert_eq!(stat, "600 999 999 /var/lib/data/secret\n1777 0 0 /tmp\n");
}
