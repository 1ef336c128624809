//! How the host image boots: its kernel command line (LinuxKit's `<name>-cmdline`), the data disk
//! holding the app's volumes, and `run-qemu.sh`.

use super::format::Format;
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
    /// The formats written, and where.
    pub formats: Vec<(Format, PathBuf)>,
}

/// Debian's OVMF (package `ovmf`): EFI firmware for qemu.
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `case` arm booting one format.
fn boot_arm(name: &str, format: Format, path: &Path) -> String {
    let file = file_name(path);
    let disk = |f: &str| {
        format!(
            "set -- \"$@\" -drive \"file=$here/{file},if=none,id=boot,format={f},readonly=on\" -device virtio-blk-pci,drive=boot,bootindex=0"
        )
    };
    let how = match format {
        Format::KernelInitrd => format!(
            "set -- \"$@\" -kernel \"$here/{name}-kernel\" -initrd \"$here/{name}-initrd.img\" -append \"$(cat \"$here/{name}-cmdline\") ${{APPEND:-}}\""
        ),
        Format::Iso => format!(
            "set -- \"$@\" -drive \"file=$here/{file},media=cdrom,readonly=on\" -boot d"
        ),
        Format::RawBios | Format::RawEfi => disk("raw"),
        Format::Qcow2 => disk("qcow2"),
        Format::Vmdk => disk("vmdk"),
    };
    format!("  {}) {how} ;;\n", format.name())
}

pub fn run_script(s: &Script) -> String {
    let ports: Vec<String> = s.ports.iter().map(|(h, g)| format!("{h}:{g}")).collect();
    let disk = s
        .data_disk
        .as_ref()
        .map(|d| file_name(d))
        .unwrap_or_default();
    let built: Vec<&str> = s.formats.iter().map(|(f, _)| f.name()).collect();
    let default_boot = built.first().copied().unwrap_or("kernel+initrd");
    let arms: String = s
        .formats
        .iter()
        .map(|(f, p)| boot_arm(s.name, *f, p))
        .collect();
    format!(
        r#"#!/bin/sh
# Boots the {name} host image (built by liftkit host-image) under qemu.
#   BOOT        what to boot: {built} (default: {default_boot})
#   FIRMWARE    bios or efi (default: efi for raw-efi, else bios); efi is OVMF, $OVMF
#               (default: {ovmf}, Debian package ovmf)
#   PORTS       TCP forwards "HOST:GUEST …" on 127.0.0.1 (default: {ports_default})
#   DATA_DISK   raw disk with the volumes (default: {disk_default}); "none" for tmpfs volumes
#   ACCEL       kvm or tcg (default: kvm when /dev/kvm is usable, else tcg)
#   MACHINE     q35 or pc (default: q35: PCIe with MSI-X; on pc, under TCG, the kernel spends
#               about 0.6 s per virtio device routing its interrupt through ACPI link devices)
#   MEMORY      MiB (default 512)
#   APPEND      more kernel parameters (BOOT=kernel+initrd), e.g. "liftkit.ip=10.0.2.15/24
#               liftkit.gw=10.0.2.2 liftkit.dns=10.0.2.3" instead of DHCP
#   QEMU_FLAGS  more qemu flags, e.g. "-monitor unix:/tmp/{name}.mon,server,nowait"
# The serial console is on stdout; power off with the monitor's system_powerdown (ACPI button).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${{ACCEL:-}}" ]; then
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
boot=${{BOOT:-{default_boot}}}
net="user,id=net0"
for p in ${{PORTS:-{ports_default}}}; do
  net="$net,hostfwd=tcp:127.0.0.1:${{p%%:*}}-:${{p##*:}}"
done
set -- -machine "${{MACHINE:-q35}}" -accel "$ACCEL" -m "${{MEMORY:-512}}" -smp 1 -nographic -no-reboot   -netdev "$net" -device virtio-net-pci,netdev=net0
case "$boot" in
{arms}  *) echo "run-qemu.sh: BOOT=$boot was not built (built: {built})" >&2; exit 2 ;;
esac
default_firmware=bios
[ "$boot" = raw-efi ] && default_firmware=efi
case "${{FIRMWARE:-$default_firmware}}" in
  bios) ;;
  efi)
    ovmf=${{OVMF:-{ovmf}}}
    [ -r "$ovmf" ] || {{ echo "run-qemu.sh: no EFI firmware at $ovmf (Debian package ovmf)" >&2; exit 2; }}
    set -- "$@" -bios "$ovmf" ;;
  *) echo "run-qemu.sh: FIRMWARE must be bios or efi" >&2; exit 2 ;;
esac
disk=${{DATA_DISK:-{disk_path}}}
if [ -n "$disk" ] && [ "$disk" != none ]; then
  set -- "$@" -drive "file=$disk,if=virtio,format=raw"
fi
# shellcheck disable=SC2086 # QEMU_FLAGS is a word list on purpose
exec qemu-system-x86_64 "$@" ${{QEMU_FLAGS:-}}
"#,
        name = s.name,
        built = built.join(" "),
        ovmf = OVMF,
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
