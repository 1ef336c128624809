//! GRUB as the boot loader of every bootable format, built with `grub-mkimage` from Debian's
//! platform directories: one embedded configuration for all of them, so BIOS and EFI, disk and
//! CD boot the same kernel with the same command line. The configuration finds the boot files
//! by a marker file named after the build (no device names), loads them and boots; no menu, no
//! timeout, no `normal` module: the embedded config runs in GRUB's rescue parser.

use super::super::tool::{self, GrubPlatform, GRUB_BIOS, GRUB_EFI, GRUB_MKIMAGE};
use super::super::HostImageError;
use std::path::Path;
use std::process::Command;

/// Where the boot files sit on every boot medium.
pub const BOOT_DIR: &str = "liftkit";

/// What GRUB is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// core.img for a disk (after boot.img in the MBR).
    BiosDisk,
    /// The El Torito boot image of a CD.
    BiosCd,
    /// BOOTX64.EFI (on an EFI system partition or the CD's EFI image).
    Efi,
}

impl Target {
    fn platform(self) -> GrubPlatform {
        match self {
            Target::BiosDisk | Target::BiosCd => GRUB_BIOS,
            Target::Efi => GRUB_EFI,
        }
    }

    fn format(self) -> &'static str {
        match self {
            Target::BiosDisk => "i386-pc",
            Target::BiosCd => "i386-pc-eltorito",
            Target::Efi => "x86_64-efi",
        }
    }

    /// The modules built in (all of them load at start: the embedded config uses them).
    fn modules(self) -> Vec<&'static str> {
        let mut m = match self {
            // Disks and CDs through the BIOS; on EFI the firmware's block I/O is built in.
            Target::BiosDisk | Target::BiosCd => vec!["biosdisk"],
            Target::Efi => vec![],
        };
        m.extend([
            "part_msdos",
            "part_gpt",
            "fat",
            "ext2",
            "iso9660",
            "search",
            "search_fs_file",
            "linux",
            "echo",
            "reboot",
            "serial",
            "terminal",
        ]);
        m
    }
}

/// The embedded configuration of a liftkit host: its boot files under /liftkit/.
pub fn config(target: Target, marker: &str, cmdline: &str) -> String {
    loader_config(
        target,
        &format!("/{BOOT_DIR}/{marker}"),
        &format!("/{BOOT_DIR}/kernel"),
        &format!("/{BOOT_DIR}/initrd.img"),
        cmdline,
    )
}

/// An embedded configuration: the serial console first on BIOS (so a failed boot shows why;
/// EFI firmware already mirrors its console there), then the filesystem holding `marker`, the
/// kernel and initrd on it; a boot that fails (GRUB out of memory) reboots instead of waiting
/// at a prompt, as a kernel panic does (panic=-1).
pub fn loader_config(
    target: Target,
    marker: &str,
    kernel: &str,
    initrd: &str,
    cmdline: &str,
) -> String {
    let serial = if target == Target::Efi {
        ""
    } else {
        "serial --unit=0 --speed=115200\n\
         terminal_output serial console\n\
         terminal_input serial console\n"
    };
    format!(
        "{serial}\
         echo 'liftkit: looking for {marker}'\n\
         search --no-floppy --set=root --file {marker}\n\
         echo \"liftkit: booting from $root\"\n\
         linux {kernel} {cmdline}\n\
         initrd {initrd}\n\
         boot\n\
         echo 'liftkit: boot failed'\n\
         reboot\n"
    )
}

/// Checks everything `build` needs for `target`, naming the package of what is missing.
pub fn check(target: Target, format: &str) -> Result<(), HostImageError> {
    tool::find(GRUB_MKIMAGE, format)?;
    tool::grub_dir(target.platform(), format)?;
    Ok(())
}

/// Builds the GRUB image for `target` into `out`, embedding `config`.
pub fn build(
    target: Target,
    config: &str,
    work: &Path,
    out: &Path,
) -> Result<Vec<u8>, HostImageError> {
    let program = tool::find(GRUB_MKIMAGE, target.format())?;
    let dir = tool::grub_dir(target.platform(), target.format())?;
    let cfg = work.join(format!("grub-{}.cfg", target.format()));
    std::fs::write(&cfg, config).map_err(|e| HostImageError::io(cfg.clone(), e))?;
    tool::run(
        Command::new(program)
            .arg("-O")
            .arg(target.format())
            .arg("-d")
            .arg(&dir)
            .arg("-c")
            .arg(&cfg)
            .args(["-p", "/boot/grub", "-o"])
            .arg(out)
            .args(target.modules()),
    )?;
    std::fs::read(out).map_err(|e| HostImageError::io(out.to_path_buf(), e))
}

/// GRUB's MBR code (boot.img) pointed at core.img at `core_lba`, as grub-bios-setup patches it.
pub fn boot_sector(core_lba: u64) -> Result<Vec<u8>, HostImageError> {
    let dir = tool::grub_dir(GRUB_BIOS, "raw-bios")?;
    let path = dir.join("boot.img");
    let mut b = std::fs::read(&path).map_err(|e| HostImageError::io(path.clone(), e))?;
    if b.len() != 512 {
        return Err(HostImageError::Tool(format!(
            "{}: not a 512-byte boot sector",
            path.display()
        )));
    }
    // GRUB_BOOT_MACHINE_KERNEL_SECTOR: where core.img's first sector is.
    b[0x5c..0x64].copy_from_slice(&core_lba.to_le_bytes());
    // GRUB_BOOT_MACHINE_DRIVE_CHECK: always trust the drive the BIOS booted from.
    b[0x66..0x68].copy_from_slice(&[0x90, 0x90]);
    Ok(b)
}

/// core.img with its first sector's blocklist naming where the rest lies (contiguously after
/// it, from `core_lba + 1`), as grub-bios-setup writes it for an embedded core.
pub fn place_core(core: &mut [u8], core_lba: u64) -> Result<(), HostImageError> {
    let sectors = core.len().div_ceil(512) as u64;
    if core.len() < 512 || sectors > 0xffff {
        return Err(HostImageError::Tool(format!(
            "grub-mkimage wrote a core.img of {} bytes",
            core.len()
        )));
    }
    // struct grub_boot_blocklist { u64 start; u16 len; u16 segment; } ends the first sector.
    let at = 512 - 12;
    core[at..at + 8].copy_from_slice(&(core_lba + 1).to_le_bytes());
    core[at + 8..at + 10].copy_from_slice(&((sectors - 1) as u16).to_le_bytes());
    core[at + 10..at + 12].copy_from_slice(&0x0820u16.to_le_bytes());
    Ok(())
}
