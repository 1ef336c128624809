//! The formats a host image is written in, LinuxKit's names and file names: `kernel+initrd`
//! (`<app>-kernel`, `<app>-initrd.img`, `<app>-cmdline`), `iso` (`<app>.iso`, BIOS and EFI),
//! `raw-bios` (`<app>-bios.img`: MBR), `raw-efi` (`<app>-efi.img`: GPT, boots under EFI and
//! BIOS), `qcow2` and `vmdk` (`<app>.qcow2`, `<app>.vmdk`: the raw-efi disk converted).
//!
//! Disks carry the system image as a partition of their own, read in place (nothing of it is
//! loaded into RAM); the ISO and kernel+initrd carry it inside the initrd.

mod convert;
pub mod disk;
mod fat;
pub mod grub;
mod iso;

use super::kernel::{self, Kernel};
use super::tool::{self, QEMU_IMG, XORRISO};
use super::HostImageError;
use disk::{Kind, Layout, Partition, Table};
use fat::FatFile;
use grub::{Target, BOOT_DIR};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Format {
    #[serde(rename = "kernel+initrd")]
    KernelInitrd,
    #[serde(rename = "iso")]
    Iso,
    #[serde(rename = "raw-bios")]
    RawBios,
    #[serde(rename = "raw-efi")]
    RawEfi,
    #[serde(rename = "qcow2")]
    Qcow2,
    #[serde(rename = "vmdk")]
    Vmdk,
}

pub const ALL: &[Format] = &[
    Format::KernelInitrd,
    Format::Iso,
    Format::RawBios,
    Format::RawEfi,
    Format::Qcow2,
    Format::Vmdk,
];

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::KernelInitrd => "kernel+initrd",
            Format::Iso => "iso",
            Format::RawBios => "raw-bios",
            Format::RawEfi => "raw-efi",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
        }
    }

    /// The file written (the first of three for kernel+initrd).
    pub fn file_name(self, slug: &str) -> String {
        match self {
            Format::KernelInitrd => format!("{slug}-kernel"),
            Format::Iso => format!("{slug}.iso"),
            Format::RawBios => format!("{slug}-bios.img"),
            Format::RawEfi => format!("{slug}-efi.img"),
            Format::Qcow2 => format!("{slug}.qcow2"),
            Format::Vmdk => format!("{slug}.vmdk"),
        }
    }

    /// Whether some firmware boots it through EFI (the kernel then needs its EFI stub).
    pub fn boots_on_efi(self) -> bool {
        !matches!(self, Format::KernelInitrd | Format::RawBios)
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        ALL.iter().copied().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|f| f.name()).collect();
            format!("unknown format {s:?} (one of {})", names.join(", "))
        })
    }
}

/// One written format, for the summary and the reproducibility checks.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub format: Format,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// Everything the formats are made of, built once.
pub struct Parts<'a> {
    pub slug: &'a str,
    pub kernel: &'a [u8],
    /// The initrd holding the system image (kernel+initrd, ISO) and its command line.
    pub initrd: &'a [u8],
    pub cmdline: &'a str,
    /// The initrd without it, the command line naming the system partition, and the image.
    pub disk_initrd: &'a [u8],
    pub disk_cmdline: &'a str,
    pub system: &'a [u8],
    /// SOURCE_DATE_EPOCH of every date written.
    pub epoch: u64,
}

/// Checks, before anything is built, that every tool the formats need is installed and that the
/// kernel can be booted the way they boot it; one line naming what is missing.
pub fn check(formats: &[Format], k: &Kernel) -> Result<(), HostImageError> {
    for f in formats {
        let name = f.name();
        if *f != Format::KernelInitrd {
            tool::find(fat::MFORMAT, name)?;
        }
        match f {
            Format::KernelInitrd => {}
            Format::Iso => {
                grub::check(Target::BiosCd, name)?;
                grub::check(Target::Efi, name)?;
                tool::find(XORRISO, name)?;
            }
            Format::RawBios => grub::check(Target::BiosDisk, name)?,
            Format::RawEfi | Format::Qcow2 | Format::Vmdk => {
                grub::check(Target::BiosDisk, name)?;
                grub::check(Target::Efi, name)?;
                if *f != Format::RawEfi {
                    tool::find(QEMU_IMG, name)?;
                }
            }
        }
        if f.boots_on_efi() && !kernel::has_efi_stub(&k.image) {
            return Err(HostImageError::NoEfiStub {
                kernel: k.image.clone(),
                format: name.to_string(),
            });
        }
    }
    Ok(())
}

/// Writes every format but kernel+initrd into `dir`; `work` is scratch space.
pub fn write(
    formats: &[Format],
    p: &Parts,
    dir: &Path,
    work: &Path,
) -> Result<Vec<Written>, HostImageError> {
    let mut out = Vec::new();
    let mut efi_disk: Option<PathBuf> = None;
    for f in formats {
        let path = dir.join(f.file_name(p.slug));
        match f {
            Format::KernelInitrd => continue,
            Format::Iso => iso_image(p, work, &path)?,
            Format::RawBios => {
                disk::write(&bios_disk(p, work)?, &path)?;
            }
            Format::RawEfi | Format::Qcow2 | Format::Vmdk => {
                let raw = match &efi_disk {
                    Some(r) => r.clone(),
                    None => {
                        let r = if formats.contains(&Format::RawEfi) {
                            dir.join(Format::RawEfi.file_name(p.slug))
                        } else {
                            work.join("efi.img")
                        };
                        disk::write(&efi_disk_layout(p, work)?, &r)?;
                        efi_disk = Some(r.clone());
                        r
                    }
                };
                if *f != Format::RawEfi {
                    convert::convert(&raw, &path, f.name())?;
                }
            }
        }
        out.push(written(*f, &[path])?);
    }
    Ok(out)
}

/// A format's record: its size and the sha256 of its files, concatenated in order (kernel+initrd
/// is three files; the first names it).
pub fn written(format: Format, files: &[PathBuf]) -> Result<Written, HostImageError> {
    let mut h = Sha256::new();
    let mut size = 0;
    for p in files {
        let bytes = std::fs::read(p).map_err(|e| HostImageError::io(p.clone(), e))?;
        size += bytes.len() as u64;
        h.update(&bytes);
    }
    Ok(Written {
        format,
        bytes: size,
        sha256: hex::encode(h.finalize()),
        path: files[0].clone(),
    })
}

/// The file GRUB searches for: named after the initrd, so another liftkit disk attached to the
/// same VM is not taken for this one.
fn marker(slug: &str, initrd: &[u8]) -> String {
    format!("{slug}-{}", &hex::encode(Sha256::digest(initrd))[..16])
}

/// The boot files (kernel, initrd, marker) under /liftkit/, plus `extra`.
fn boot_files<'a>(p: &'a Parts, initrd: &'a [u8], marker: &'a str) -> Vec<(String, &'a [u8])> {
    vec![
        (format!("{BOOT_DIR}/kernel"), p.kernel),
        (format!("{BOOT_DIR}/initrd.img"), initrd),
        (format!("{BOOT_DIR}/{marker}"), marker.as_bytes()),
    ]
}

fn fat_of(
    files: &[(String, &[u8])],
    label: &str,
    work: &Path,
    epoch: u64,
) -> Result<Vec<u8>, HostImageError> {
    let list: Vec<FatFile> = files
        .iter()
        .map(|(path, bytes)| FatFile { path, bytes })
        .collect();
    let id = disk::volume_id(&files.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    fat::image(&list, label, id, work, epoch)
}

fn iso_image(p: &Parts, work: &Path, out: &Path) -> Result<(), HostImageError> {
    let marker = marker(p.slug, p.initrd);
    let cfg = |t| grub::config(t, &marker, p.cmdline);
    let bios = grub_for(Target::BiosCd, &cfg, work, "eltorito.img")?;
    let efi = grub_for(Target::Efi, &cfg, work, "bootx64.efi")?;
    let efi_fat = fat_of(
        &[("EFI/BOOT/BOOTX64.EFI".to_string(), efi.as_slice())],
        "LIFTKIT-EFI",
        work,
        p.epoch,
    )?;
    iso::write(
        &iso::IsoFiles {
            files: boot_files(p, p.initrd, &marker),
            bios_boot: &bios,
            efi_boot: &efi_fat,
        },
        work,
        out,
        p.epoch,
    )
}

/// GRUB's image for `target`, with the configuration `cfg` makes for it, built as `work/file`.
fn grub_for(
    target: Target,
    cfg: &dyn Fn(Target) -> String,
    work: &Path,
    file: &str,
) -> Result<Vec<u8>, HostImageError> {
    grub::build(target, &cfg(target), work, &work.join(file))
}

fn system_partition(p: &Parts) -> Partition {
    Partition {
        kind: Kind::System,
        name: "liftkit-system",
        data: p.system.to_vec(),
    }
}

/// MBR: GRUB's boot.img and core.img in the gap, an active FAT boot partition, the system.
fn bios_disk(p: &Parts, work: &Path) -> Result<Layout, HostImageError> {
    let marker = marker(p.slug, p.disk_initrd);
    let cfg = grub::config(Target::BiosDisk, &marker, p.disk_cmdline);
    let mut core = grub::build(Target::BiosDisk, &cfg, work, &work.join("core.img"))?;
    grub::place_core(&mut core, 1)?;
    let boot = fat_of(
        &boot_files(p, p.disk_initrd, &marker),
        "LIFTKIT",
        work,
        p.epoch,
    )?;
    Ok(Layout {
        table: Table::Mbr,
        boot_code: Some(grub::boot_sector(1)?),
        gap: Some(core),
        partitions: vec![
            Partition {
                kind: Kind::Boot,
                name: "liftkit-boot",
                data: boot,
            },
            system_partition(p),
        ],
    })
}

/// GPT: a BIOS boot partition with GRUB's core.img (boot.img in the protective MBR points at
/// it), the EFI system partition with GRUB's BOOTX64.EFI and the boot files, the system.
fn efi_disk_layout(p: &Parts, work: &Path) -> Result<Layout, HostImageError> {
    let marker = marker(p.slug, p.disk_initrd);
    let cfg = |t| grub::config(t, &marker, p.disk_cmdline);
    let core = grub_for(Target::BiosDisk, &cfg, work, "core.img")?;
    let efi = grub_for(Target::Efi, &cfg, work, "bootx64.efi")?;
    let mut files = boot_files(p, p.disk_initrd, &marker);
    files.push(("EFI/BOOT/BOOTX64.EFI".to_string(), &efi));
    let esp = fat_of(&files, "LIFTKIT", work, p.epoch)?;
    let mut layout = Layout {
        table: Table::Gpt,
        boot_code: None,
        gap: None,
        partitions: vec![
            Partition {
                kind: Kind::BiosBoot,
                name: "liftkit-bios-boot",
                data: core,
            },
            Partition {
                kind: Kind::Boot,
                name: "EFI system partition",
                data: esp,
            },
            system_partition(p),
        ],
    };
    let core_lba = disk::start_of(&layout, 0)?;
    grub::place_core(&mut layout.partitions[0].data, core_lba)?;
    layout.boot_code = Some(grub::boot_sector(core_lba)?);
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), *f);
        }
        let e = "iso-bios".parse::<Format>().unwrap_err();
        assert!(e.contains("kernel+initrd, iso, raw-bios"), "{e}");
        assert_eq!(Format::RawEfi.file_name("nginx"), "nginx-efi.img");
    }
}
