//! The ISO: ISO 9660 with Rock Ridge, bootable from a CD on BIOS (El Torito, GRUB's eltorito
//! core) and on EFI (El Torito EFI entry: a FAT image holding GRUB's BOOTX64.EFI), both finding
//! the kernel and initrd in /liftkit/ on the CD. Written by xorriso, the tool grub-mkrescue
//! drives, with every date set from SOURCE_DATE_EPOCH so the same inputs give the same bytes.

use super::super::tool::{self, XORRISO};
use super::super::HostImageError;
use std::path::Path;
use std::process::Command;

pub struct IsoFiles<'a> {
    /// Paths under the CD's root, and their bytes.
    pub files: Vec<(String, &'a [u8])>,
    /// GRUB's i386-pc-eltorito image and the FAT image with BOOTX64.EFI.
    pub bios_boot: &'a [u8],
    pub efi_boot: &'a [u8],
}

pub fn write(iso: &IsoFiles, work: &Path, out: &Path, epoch: u64) -> Result<(), HostImageError> {
    let program = tool::find(XORRISO, "iso")?;
    let root = work.join("iso");
    let _ = std::fs::remove_dir_all(&root);
    let mut all: Vec<(String, &[u8])> = iso.files.clone();
    all.push(("boot/grub/bios.img".to_string(), iso.bios_boot));
    all.push(("boot/grub/efi.img".to_string(), iso.efi_boot));
    let stamp = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    for (rel, bytes) in &all {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HostImageError::io(parent.into(), e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| HostImageError::io(p.clone(), e))?;
        let f = std::fs::File::options()
            .write(true)
            .open(&p)
            .map_err(|e| HostImageError::io(p.clone(), e))?;
        f.set_modified(stamp)
            .map_err(|e| HostImageError::io(p.clone(), e))?;
    }
    // Directories last (writing their files changed them), deepest first.
    let mut dirs: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.into_path())
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        std::fs::File::open(&d)
            .and_then(|f| f.set_modified(stamp))
            .map_err(|e| HostImageError::io(d.clone(), e))?;
    }
    let _ = std::fs::remove_file(out);
    tool::run(
        Command::new(program)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            // -r: Rock Ridge with owners and modes normalized (root, readable), so neither the
            // builder nor its umask shows in the image.
            .args(["-as", "mkisofs", "-quiet", "-r", "-V", "LIFTKIT", "-o"])
            .arg(out)
            .args([
                "-b",
                "boot/grub/bios.img",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
                "--grub2-boot-info",
                "-eltorito-alt-boot",
                "-e",
                "boot/grub/efi.img",
                "-no-emul-boot",
            ])
            .arg(&root),
    )?;
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
