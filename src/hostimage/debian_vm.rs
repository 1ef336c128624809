//! The peer `liftkit bench footprint` measures a lifted host against: the same app in a minimal
//! Debian VM. Its root is made by `debootstrap --variant=minbase` from the Debian archive (the
//! mirror apt uses), with systemd as init, Debian's kernel package (whose kernel and modules the
//! liftkit host is then built with, so both run the same kernel) and the app's Debian package,
//! started by its own unit. It boots from a raw disk the way the liftkit raw-bios disk does:
//! GRUB's boot.img and core.img in the MBR gap, then a partition (here ext4, the whole root,
//! written by `mkfs.ext4 -d`: no loop device). A unit logs MemTotal − MemAvailable on the
//! console when the VM is asked to power off, before the app stops, as liftkit-init does.
//!
//! Everything is built in a cache directory and reused while its inputs stay the same.

use super::format::disk::{self, Kind, Layout, Partition, Table};
use super::format::grub::{self, Target};
use super::tool::{self, MKFS_EXT4};
use super::HostImageError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An app as Debian ships it.
#[derive(Debug, Clone)]
pub struct DebianApp {
    pub name: &'static str,
    pub packages: &'static [&'static str],
    /// The unit the package starts the app with.
    pub unit: &'static str,
    /// Where it listens as packaged.
    pub port: u16,
    /// Shell run in the root after installation: only what makes the app reachable from
    /// outside the VM, as the lifted host is.
    pub setup: &'static str,
}

/// The apps the benchmark knows, by analyzer id.
pub fn app_for(analyzer: &str) -> Option<DebianApp> {
    match analyzer {
        "nginx" => Some(DebianApp {
            name: "nginx",
            packages: &["nginx-light"],
            unit: "nginx.service",
            port: 80,
            setup: "",
        }),
        "redis" => Some(DebianApp {
            name: "redis",
            packages: &["redis-server"],
            unit: "redis-server.service",
            port: 6379,
            setup: "sed -i -e 's/^bind .*/bind 0.0.0.0/' -e 's/^protected-mode yes/protected-mode no/' /etc/redis/redis.conf",
        }),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct DebianVm {
    pub disk: PathBuf,
    /// Debian's kernel image and modules tree from the root (the liftkit host boots them too).
    pub kernel: PathBuf,
    pub modules: PathBuf,
    pub release: String,
}

pub const DEBOOTSTRAP: tool::Tool = tool::Tool {
    program: "debootstrap",
    package: "debootstrap",
    purpose: "the minimal Debian VM",
};

/// The mirror apt on this machine uses for Debian (deb822 `.sources` or sources.list).
pub fn apt_mirror() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        texts.extend(files.iter().filter_map(|f| std::fs::read_to_string(f).ok()));
    }
    texts.extend(std::fs::read_to_string("/etc/apt/sources.list").ok());
    for t in &texts {
        for line in t.lines().map(str::trim) {
            let uri = line
                .strip_prefix("URIs:")
                .and_then(|u| u.split_whitespace().next())
                .or_else(|| {
                    let mut w = line.strip_prefix("deb ")?.split_whitespace();
                    w.find(|x| x.starts_with("http"))
                });
            if let Some(u) = uri.filter(|u| u.ends_with("/debian") || u.ends_with("/debian/")) {
                return Some(u.trim_end_matches('/').to_string());
            }
        }
    }
    None
}

/// Builds (or reuses) the Debian VM for `app` under `cache`.
pub fn build(
    app: &DebianApp,
    cache: &Path,
    mirror: &str,
    suite: &str,
) -> Result<DebianVm, HostImageError> {
    let key = {
        let mut h = Sha256::new();
        h.update(format!(
            "4 {suite} {mirror} {:?} {} {}",
            app.packages, app.unit, app.setup
        ));
        hex::encode(&h.finalize()[..6])
    };
    let root = cache.join(format!("{}-{key}-root", app.name));
    let disk_path = cache.join(format!("{}-{key}.img", app.name));
    std::fs::create_dir_all(cache.join("debs")).map_err(|e| HostImageError::io(cache.into(), e))?;
    if !root.join("etc/liftkit-bench-ready").is_file() {
        debootstrap(app, &root, cache, mirror, suite)?;
    }
    let (kernel, release) = kernel_of(&root)?;
    let vm = DebianVm {
        disk: disk_path.clone(),
        kernel,
        modules: root.join("lib/modules").join(&release),
        release: release.clone(),
    };
    if !disk_path.is_file() {
        write_disk(&root, &release, app, &disk_path, cache)?;
    }
    Ok(vm)
}

fn debootstrap(
    app: &DebianApp,
    root: &Path,
    cache: &Path,
    mirror: &str,
    suite: &str,
) -> Result<(), HostImageError> {
    let program = tool::find(DEBOOTSTRAP, "bench footprint")?;
    let _ = std::fs::remove_dir_all(root);
    // dbus: systemd-logind needs it, and logind is what turns the ACPI power button into a
    // power-off (the moment both systems log their memory use).
    let mut include = vec![
        "systemd",
        "systemd-sysv",
        "udev",
        "dbus",
        "linux-image-amd64",
        "initramfs-tools",
    ];
    include.extend(app.packages);
    tool::run(
        Command::new(program)
            .arg("--variant=minbase")
            .arg(format!("--cache-dir={}", cache.join("debs").display()))
            .arg(format!("--include={}", include.join(",")))
            .arg(suite)
            .arg(root)
            .arg(mirror),
    )?;
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| HostImageError::io(d.into(), e))?;
        }
        std::fs::write(&p, text).map_err(|e| HostImageError::io(p.clone(), e))
    };
    write("etc/hostname", &format!("{}\n", app.name))?;
    // minbase brings no network configuration: systemd's own networkd, with DHCP, as the
    // liftkit host gets its address.
    write(
        "etc/systemd/network/20-wired.network",
        "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n",
    )?;
    for (wants, unit) in [
        ("multi-user.target.wants", "systemd-networkd.service"),
        ("sockets.target.wants", "systemd-networkd.socket"),
    ] {
        let dir = root.join("etc/systemd/system").join(wants);
        std::fs::create_dir_all(&dir).map_err(|e| HostImageError::io(dir.clone(), e))?;
        let link = dir.join(unit);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("/lib/systemd/system/{unit}"), &link)
            .map_err(|e| HostImageError::io(link.clone(), e))?;
    }
    write(
        "etc/fstab",
        &format!("LABEL={ROOT_LABEL} / ext4 defaults 0 1\n"),
    )?;
    // The same figure liftkit-init logs, at the same moment: asked to power off, app still up
    // (this unit starts after the app, so it stops before it).
    write(
        "usr/local/sbin/liftkit-meminfo",
        concat!(
            "#!/bin/sh\n",
            "awk '/^MemTotal:/ {t=$2} /^MemAvailable:/ {a=$2} ",
            "/^(AnonPages|Shmem|SUnreclaim|KernelStack|PageTables|Percpu):/ ",
            "{sub(\":\", \"\", $1); parts = parts sep $1 \" \" $2 \" kB\"; sep = \", \"} ",
            "END {printf \"memory: used %d kB (MemTotal %d kB - MemAvailable %d kB)\\n",
            "memory: of which %s\\n\", t-a, t, a, parts}' /proc/meminfo > /dev/console\n",
        ),
    )?;
    let script = root.join("usr/local/sbin/liftkit-meminfo");
    super::set_mode(&script, 0o755).map_err(|e| HostImageError::io(script.clone(), e))?;
    write(
        "etc/systemd/system/liftkit-meminfo.service",
        &format!(
            "[Unit]\nDescription=log memory use at power-off (liftkit bench footprint)\nAfter={unit}\n\n\
             [Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\
             ExecStop=/usr/local/sbin/liftkit-meminfo\n\n[Install]\nWantedBy=multi-user.target\n",
            unit = app.unit
        ),
    )?;
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| HostImageError::io(wants.clone(), e))?;
    let link = wants.join("liftkit-meminfo.service");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/systemd/system/liftkit-meminfo.service", &link)
        .map_err(|e| HostImageError::io(link.clone(), e))?;
    if !app.setup.is_empty() {
        // In the new root only, with its own shell: nothing of this machine is touched.
        tool::run(
            Command::new("chroot")
                .arg(root)
                .args(["/bin/sh", "-c", app.setup]),
        )?;
    }
    let _ = tool::run(Command::new("chroot").arg(root).args(["apt-get", "clean"]));
    write("etc/liftkit-bench-ready", "")
}

const ROOT_LABEL: &str = "debian-root";

/// The kernel the root's linux-image package installed, and its release.
fn kernel_of(root: &Path) -> Result<(PathBuf, String), HostImageError> {
    let boot = root.join("boot");
    let mut found: Vec<String> = std::fs::read_dir(&boot)
        .map_err(|e| HostImageError::io(boot.clone(), e))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .collect();
    found.sort();
    let release = found.pop().ok_or_else(|| {
        HostImageError::BadOutput(format!(
            "{}: no vmlinuz-* (linux-image-amd64)",
            boot.display()
        ))
    })?;
    Ok((boot.join(format!("vmlinuz-{release}")), release))
}

/// MBR disk: GRUB in the gap, the root as one ext4 partition holding /boot.
fn write_disk(
    root: &Path,
    release: &str,
    app: &DebianApp,
    out: &Path,
    cache: &Path,
) -> Result<(), HostImageError> {
    let initrd = root.join(format!("boot/initrd.img-{release}"));
    if !initrd.is_file() {
        return Err(HostImageError::BadOutput(format!(
            "{}: the kernel package made no initramfs",
            initrd.display()
        )));
    }
    let used: u64 = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let size = (used + used / 3 + (128 << 20)).div_ceil(1 << 20) << 20;
    let ext4 = cache.join(format!("{}-root.ext4", app.name));
    let f = std::fs::File::create(&ext4).map_err(|e| HostImageError::io(ext4.clone(), e))?;
    f.set_len(size)
        .map_err(|e| HostImageError::io(ext4.clone(), e))?;
    let mkfs = tool::find(MKFS_EXT4, "bench footprint")?;
    tool::run(
        Command::new(mkfs)
            .args(["-q", "-F", "-L", ROOT_LABEL, "-d"])
            .arg(root)
            .arg(&ext4),
    )?;
    let marker = format!("/boot/vmlinuz-{release}");
    let cfg = grub::loader_config(
        Target::BiosDisk,
        &marker,
        &marker,
        &format!("/boot/initrd.img-{release}"),
        &format!("root=LABEL={ROOT_LABEL} ro console=ttyS0 quiet panic=-1"),
    );
    let work = cache.join("grub-work");
    std::fs::create_dir_all(&work).map_err(|e| HostImageError::io(work.clone(), e))?;
    let mut core = grub::build(Target::BiosDisk, &cfg, &work, &work.join("core.img"))?;
    grub::place_core(&mut core, 1)?;
    let data = std::fs::read(&ext4).map_err(|e| HostImageError::io(ext4.clone(), e))?;
    let _ = std::fs::remove_file(&ext4);
    disk::write(
        &Layout {
            table: Table::Mbr,
            boot_code: Some(grub::boot_sector(1)?),
            gap: Some(core),
            partitions: vec![Partition {
                kind: Kind::System,
                name: "debian-root",
                data,
            }],
        },
        out,
    )?;
    Ok(())
}
