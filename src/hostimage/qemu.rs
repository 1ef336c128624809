//! How the host image boots: its kernel command line (LinuxKit's `<name>-cmdline`), the data disk
//! holding the app's volumes, and `run-qemu.sh`.

use super::HostImageError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel command line: serial console, power off instead of hanging on a panic, and the
/// source host's boot parameters that matter to the app. The network comes from DHCP (init's
/// client); `liftkit.ip=ADDR/PREFIX liftkit.gw=ADDR liftkit.dns=ADDR` appended make it static.
pub fn cmdline(boot_params: &[String]) -> String {
    let mut words = vec![
        "console=ttyS0".to_string(),
        "quiet".to_string(),
        "panic=-1".to_string(),
    ];
    words.extend(boot_params.iter().cloned());
    words.join(" ")
}

/// `<name>-data.img`: an ext4 image of `out/<app>/volumes/` (one directory per volume), made by
/// `mkfs.ext4 -d` so owners and modes carry over without mounting anything.
pub fn data_disk(volumes: &Path, image: &Path) -> Result<u64, HostImageError> {
    let content: u64 = walkdir::WalkDir::new(volumes)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    // Room to grow: the data keeps living there.
    let size = (content * 2).max(64 << 20) + (32 << 20);
    let file =
        std::fs::File::create(image).map_err(|e| HostImageError::io(image.to_path_buf(), e))?;
    file.set_len(size)
        .map_err(|e| HostImageError::io(image.to_path_buf(), e))?;
    let out = Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-L",
            "liftkit-data",
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(volumes)
        .arg(image)
        .output()
        .map_err(|e| {
            HostImageError::Tool(format!("mkfs.ext4 (e2fsprogs) to build the data disk: {e}"))
        })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(image);
        return Err(HostImageError::Tool(format!(
            "mkfs.ext4 -d {}: {}",
            volumes.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(size)
}

pub struct Script<'a> {
    pub name: &'a str,
    /// `host:guest` TCP forwards, defaulting to the app's own port numbers.
    pub ports: Vec<(u16, u16)>,
    pub data_disk: Option<PathBuf>,
}

pub fn run_script(s: &Script) -> String {
    let ports: Vec<String> = s.ports.iter().map(|(h, g)| format!("{h}:{g}")).collect();
    let disk = s
        .data_disk
        .as_ref()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        r#"#!/bin/sh
# Boots the {name} host image (kernel + initramfs built by liftkit host-image) under qemu.
#   PORTS       TCP forwards "HOST:GUEST …" on 127.0.0.1 (default: {ports_default})
#   DATA_DISK   raw disk with the volumes (default: {disk_default}); "none" for tmpfs volumes
#   ACCEL       kvm or tcg (default: kvm when /dev/kvm is usable, else tcg)
#   MEMORY      MiB (default 512)
#   QEMU_FLAGS  more qemu flags, e.g. "-monitor unix:/tmp/{name}.mon,server,nowait"
# The serial console is on stdout; power off with the monitor's system_powerdown (ACPI button).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${{ACCEL:-}}" ]; then
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
net="user,id=net0"
for p in ${{PORTS:-{ports_default}}}; do
  net="$net,hostfwd=tcp:127.0.0.1:${{p%%:*}}-:${{p##*:}}"
done
append=$(cat "$here/{name}-cmdline")
disk=${{DATA_DISK:-{disk_path}}}
drive=""
if [ -n "$disk" ] && [ "$disk" != none ]; then
  drive="-drive file=$disk,if=virtio,format=raw"
  append="$append liftkit.data=/dev/vda"
fi
# shellcheck disable=SC2086 # drive and QEMU_FLAGS are word lists on purpose
exec qemu-system-x86_64 -accel "$ACCEL" -m "${{MEMORY:-512}}" -smp 1 -nographic -no-reboot \
  -kernel "$here/{name}-kernel" -initrd "$here/{name}-initrd.img" -append "$append" \
  -netdev "$net" -device virtio-net-pci,netdev=net0 $drive ${{QEMU_FLAGS:-}}
"#,
        name = s.name,
        ports_default = ports.join(" "),
        disk_default = if disk.is_empty() {
            "none".to_string()
        } else {
            disk.clone()
        },
        disk_path = if disk.is_empty() {
            String::new()
        } else {
            format!("$here/{disk}")
        },
    )
}
