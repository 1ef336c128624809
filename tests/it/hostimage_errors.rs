//! Bad input to `liftkit host-image` and `liftkit bench boot`: one clear line naming what to
//! provide, exit code 2, no panic; a failed boot shows the end of the serial console.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PLAN: &str = "schema: 1
source: {hostname: src, os: Debian, kernel: '6.1', root: /}
apps:
- name: demo
  analyzer: generic
  fit: good
  processes: []
  image:
    name: localhost/liftkit/demo:1
    entrypoint: [/usr/sbin/demo]
    user: root
    uid: 0
    gid: 0
    workdir: /
    ports: [8080/tcp]
  files: []
  probes: [{http: GET /}]
";

/// An app output directory as `liftkit build` leaves it (plan and OCI index), enough for the
/// checks that come before any image content is read.
fn app_dir(root: &Path) -> PathBuf {
    let dir = root.join("demo");
    std::fs::create_dir_all(dir.join("oci")).unwrap();
    std::fs::write(dir.join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.join("oci/index.json"), "{}").unwrap();
    dir
}

/// A file shaped like a bzImage announcing `version`.
fn fake_kernel(path: &Path, version: &str) {
    let mut b = vec![0u8; 0x4000];
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
    b[0x300..0x300 + version.len()].copy_from_slice(version.as_bytes());
    std::fs::write(path, b).unwrap();
}

/// A modules tree whose modules.dep lists `names` (files exist; their content is never loaded).
fn fake_modules(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir.join("kernel")).unwrap();
    let mut dep = String::new();
    for n in names {
        std::fs::write(dir.join(format!("kernel/{n}.ko")), b"\x7fELF").unwrap();
        dep.push_str(&format!("kernel/{n}.ko:\n"));
    }
    std::fs::write(dir.join("modules.dep"), dep).unwrap();
}

const ALL_NEEDED: &[&str] = &[
    "loop",
    "squashfs",
    "virtio_pci",
    "virtio_net",
    "overlay",
    "button",
    "evdev",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
];

fn fails_with(args: &[&str], expected: &[&str]) {
    fails_with_env(args, &[], expected)
}

fn fails_with_env(args: &[&str], env: &[(&str, &Path)], expected: &[&str]) {
    let mut cmd = liftkit();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: exit 2\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("liftkit: error:"))
        .unwrap_or_else(|| panic!("an error line: {stderr}"));
    for e in expected {
        assert!(line.contains(e), "{args:?}: {e:?} in one line: {line}");
    }
}

#[test]
fn host_image_says_what_to_provide() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = app_dir(tmp.path());
    let d = dir.to_str().unwrap();
    fails_with(
        &["host-image", tmp.path().to_str().unwrap()],
        &["not a lifted app's output"],
    );
    fails_with(
        &["host-image", d, "--kernel", "/nonexistent/vmlinuz"],
        &["no kernel at /nonexistent/vmlinuz", "--kernel PATH"],
    );

    let kernel = tmp.path().join("vmlinuz");
    fake_kernel(&kernel, "6.1.0-99-amd64");
    let k = kernel.to_str().unwrap();
    let no_virtio = tmp.path().join("lib/modules/6.1.0-99-amd64");
    fake_modules(&no_virtio, &["loop", "squashfs", "overlay"]);
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            no_virtio.to_str().unwrap(),
        ],
        &["lack virtio_pci", "--kernel PATH --modules DIR"],
    );
    let other = tmp.path().join("lib/modules/5.10.0-1-amd64");
    fake_modules(&other, ALL_NEEDED);
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            other.to_str().unwrap(),
        ],
        &["release 6.1.0-99-amd64", "--kernel PATH and --modules DIR"],
    );
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            tmp.path().to_str().unwrap(),
        ],
        &["no kernel modules at", "--modules DIR"],
    );
    let good = tmp.path().join("good/6.1.0-99-amd64");
    fake_modules(&good, ALL_NEEDED);
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            good.to_str().unwrap(),
            "--runtime",
            "/nonexistent/runc",
        ],
        &["no OCI runtime", "--runtime PATH"],
    );
}

/// A kernel module as `dpkg-deb -x` leaves it: an ELF object whose `.modinfo` names its
/// dependencies, compressed as its suffix says, and no modules.dep beside it.
fn real_module(dir: &Path, rel: &str, depends: &[&str]) {
    let plain = rel
        .trim_end_matches(".xz")
        .trim_end_matches(".zst")
        .trim_end_matches(".gz");
    let obj = dir.join(plain);
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    let src = dir.join("modinfo.c");
    std::fs::write(
        &src,
        format!(
            "__attribute__((section(\".modinfo\"), used)) static const char info[] = \"license=GPL\\0depends={}\\0name=x\";\n",
            depends.join(",")
        ),
    )
    .unwrap();
    run_ok(Command::new("gcc").arg("-c").arg(&src).arg("-o").arg(&obj));
    std::fs::remove_file(&src).unwrap();
    let compress = |tool: &str, args: &[&str]| {
        run_ok(Command::new(tool).args(args).arg(&obj));
    };
    if rel.ends_with(".xz") {
        compress("xz", &["--check=crc32"]);
    } else if rel.ends_with(".zst") {
        compress("zstd", &["-q", "--rm"]);
    } else if rel.ends_with(".gz") {
        compress("gzip", &["-n"]);
    }
    assert!(dir.join(rel).is_file(), "{rel} written");
}

/// The needed modules, some with dependencies of their own, in every compression kmod reads.
fn unpacked_tree(dir: &Path, skip: &str) {
    let modules: &[(&str, &[&str])] = &[
        ("kernel/drivers/virtio/virtio.ko.xz", &[]),
        ("kernel/drivers/virtio/virtio_ring.ko.zst", &[]),
        ("kernel/drivers/virtio/virtio_pci_modern_dev.ko.gz", &[]),
        (
            "kernel/drivers/virtio/virtio_pci.ko",
            &["virtio_pci_modern_dev", "virtio", "virtio_ring"],
        ),
        ("kernel/drivers/net/net_failover.ko", &["failover"]),
        ("kernel/net/core/failover.ko", &[]),
        (
            "kernel/drivers/net/virtio_net.ko",
            &["net_failover", "virtio", "virtio_ring"],
        ),
        ("kernel/fs/overlayfs/overlay.ko", &[]),
        ("kernel/drivers/block/loop.ko", &[]),
        ("kernel/fs/squashfs/squashfs.ko", &[]),
        ("kernel/drivers/acpi/button.ko", &[]),
        ("kernel/drivers/input/evdev.ko", &[]),
        (
            "kernel/drivers/block/virtio_blk.ko",
            &["virtio", "virtio_ring"],
        ),
        ("kernel/crypto/crc32c_generic.ko", &[]),
        ("kernel/fs/mbcache.ko", &[]),
        ("kernel/fs/jbd2/jbd2.ko", &[]),
        ("kernel/lib/crc16.ko", &[]),
        ("kernel/fs/ext4/ext4.ko", &["mbcache", "crc16", "jbd2"]),
    ];
    for (rel, deps) in modules {
        if !rel.contains(skip) || skip.is_empty() {
            real_module(dir, rel, deps);
        }
    }
    std::fs::write(dir.join("modules.builtin"), "kernel/lib/crc32c.ko\n").unwrap();
}

#[test]
fn an_unpacked_kernel_package_without_modules_dep_is_enough() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = app_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let kernel = tmp.path().join("vmlinuz");
    fake_kernel(&kernel, "6.1.0-99-amd64");
    let k = kernel.to_str().unwrap();
    let tree = tmp.path().join("unpacked/lib/modules/6.1.0-99-amd64");
    unpacked_tree(&tree, "");
    let before = tree_listing(&tree);
    // Modules resolve (from each module's own depends=); the run then stops at the runtime.
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            tree.to_str().unwrap(),
            "--runtime",
            "/nonexistent/runc",
        ],
        &["no OCI runtime"],
    );
    assert_eq!(
        tree_listing(&tree),
        before,
        "nothing written into the user's tree"
    );

    let broken = tmp.path().join("broken/lib/modules/6.1.0-99-amd64");
    unpacked_tree(&broken, "jbd2");
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            k,
            "--modules",
            broken.to_str().unwrap(),
        ],
        &["lack jbd2", "ext4 depends on", broken.to_str().unwrap()],
    );
}

fn tree_listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    out.sort();
    out
}

/// A kernel that is also a PE image (what CONFIG_EFI_STUB makes of a bzImage).
fn fake_efi_kernel(path: &Path, version: &str) {
    fake_kernel(path, version);
    let mut b = std::fs::read(path).unwrap();
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    std::fs::write(path, b).unwrap();
}

/// A directory holding only the named programs, linked from this machine, to stand for a PATH
/// (or GRUB directory) where the rest is not installed.
fn only(dir: &Path, links: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, target) in links {
        std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn formats_name_what_the_kernel_or_the_machine_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = app_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let modules = tmp.path().join("lib/modules/6.1.0-99-amd64");
    fake_modules(&modules, ALL_NEEDED);
    let m = modules.to_str().unwrap();
    let plain = tmp.path().join("vmlinuz-plain");
    fake_kernel(&plain, "6.1.0-99-amd64");
    let efi = tmp.path().join("vmlinuz-efi");
    fake_efi_kernel(&efi, "6.1.0-99-amd64");
    let args = |kernel: &Path, format: &'static str| -> Vec<String> {
        [
            "host-image",
            d,
            "--kernel",
            kernel.to_str().unwrap(),
            "--modules",
            m,
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["--format".to_string(), format.to_string()])
        .chain(["--runtime".to_string(), "/nonexistent/runc".to_string()])
        .collect()
    };
    let run = |a: &[String], env: &[(&str, &Path)], expected: &[&str]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        fails_with_env(&a, env, expected);
    };
    // EFI formats need the kernel's EFI stub; BIOS ones do not (they go on to the runtime).
    for format in ["iso", "raw-efi", "qcow2", "vmdk"] {
        run(
            &args(&plain, format),
            &[],
            &[
                "has no EFI stub",
                &format!("--format {format}"),
                "CONFIG_EFI_STUB",
            ],
        );
    }
    run(&args(&plain, "raw-bios"), &[], &["no OCI runtime"]);
    run(&args(&efi, "iso"), &[], &["no OCI runtime"]);

    // A tool that is not installed: named with the Debian package that provides it.
    let nothing = only(&tmp.path().join("bin-none"), &[]);
    let mtools = only(
        &tmp.path().join("bin-mtools"),
        &[("mformat", "/usr/bin/mformat")],
    );
    let grub = only(
        &tmp.path().join("bin-grub"),
        &[
            ("mformat", "/usr/bin/mformat"),
            ("grub-mkimage", "/usr/bin/grub-mkimage"),
        ],
    );
    run(
        &args(&efi, "kernel+initrd"),
        &[("PATH", &nothing)],
        &["tar2sqfs", "install the Debian package squashfs-tools-ng"],
    );
    run(
        &args(&efi, "raw-bios"),
        &[("PATH", &nothing)],
        &["mformat", "install the Debian package mtools"],
    );
    run(
        &args(&efi, "raw-bios"),
        &[("PATH", &mtools)],
        &["grub-mkimage", "install the Debian package grub-common"],
    );
    run(
        &args(&efi, "iso"),
        &[("PATH", &grub)],
        &["xorriso", "install the Debian package xorriso"],
    );
    run(
        &args(&efi, "qcow2"),
        &[("PATH", &grub)],
        &["qemu-img", "install the Debian package qemu-utils"],
    );
    let no_grub = tmp.path().join("no-grub");
    run(
        &args(&efi, "raw-bios"),
        &[("LIFTKIT_GRUB_DIR", &no_grub)],
        &["i386-pc modules", "install the Debian package grub-pc-bin"],
    );
    let bios_only = only(
        &tmp.path().join("grub-bios"),
        &[("i386-pc", "/usr/lib/grub/i386-pc")],
    );
    run(
        &args(&efi, "raw-efi"),
        &[("LIFTKIT_GRUB_DIR", &bios_only)],
        &[
            "x86_64-efi modules",
            "install the Debian package grub-efi-amd64-bin",
        ],
    );

    // A kernel without the data disk's filesystem (or virtio): one line naming the module.
    let no_ext4 = tmp.path().join("no-ext4/6.1.0-99-amd64");
    let without: Vec<&str> = ALL_NEEDED
        .iter()
        .copied()
        .filter(|n| *n != "ext4")
        .collect();
    fake_modules(&no_ext4, &without);
    fails_with(
        &[
            "host-image",
            d,
            "--kernel",
            efi.to_str().unwrap(),
            "--modules",
            no_ext4.to_str().unwrap(),
            "--format",
            "qcow2",
        ],
        &["lack ext4 (the data disk's filesystem)"],
    );
    // An unknown format is refused by the argument parser, with the list of known ones.
    let out = liftkit()
        .args(["host-image", d, "--format", "iso-bios"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown format \"iso-bios\" (one of kernel+initrd, iso, raw-bios, raw-efi, qcow2, vmdk)"),
        "{stderr}"
    );
}

#[test]
fn a_failed_boot_shows_the_end_of_the_serial_console() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = app_dir(tmp.path());
    std::fs::write(dir.join("demo-kernel"), b"k").unwrap();
    std::fs::write(dir.join("demo-initrd.img"), b"i").unwrap();
    // Stands in for qemu: a kernel that cannot find its init.
    std::fs::write(
        dir.join("run-qemu.sh"),
        "#!/bin/sh\necho 'Run /init as init process'\necho 'Kernel panic - not syncing: No working init found.'\nexit 1\n",
    )
    .unwrap();
    set_mode(&dir.join("run-qemu.sh"), 0o755);
    let out = liftkit()
        .args(["bench", "boot", "--runs", "1"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("qemu exited") && stderr.contains("before the app answered"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Kernel panic - not syncing: No working init found."),
        "the console's last lines: {stderr}"
    );
}
