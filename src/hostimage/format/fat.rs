//! FAT filesystem images (the EFI system partition, the boot partition of BIOS disks, the CD's
//! El Torito EFI image) written from files with the `fatfs` crate: no mtools, no loop device,
//! no root. fatfs stamps every entry with the DOS epoch (1980-01-01) when built without its
//! clock (`chrono`), and the volume id is given, so the same files give the same bytes.

use super::super::HostImageError;
use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};
use std::io::{Cursor, Write};

/// A file to put on the filesystem: path with `/` separators, and its bytes.
pub struct FatFile<'a> {
    pub path: &'a str,
    pub bytes: &'a [u8],
}

/// A FAT image holding `files`, sized for them with room for FAT's own structures; FAT16 from
/// 16 MiB (what firmware reads everywhere), FAT12 below. `label` is 11 bytes, space padded.
pub fn image(files: &[FatFile], label: &str, volume_id: u32) -> Result<Vec<u8>, HostImageError> {
    let bad = |e: std::io::Error| HostImageError::BadOutput(format!("FAT image: {e}"));
    let content: u64 = files.iter().map(|f| f.bytes.len() as u64 + 4096).sum();
    let size = ((content + content / 8 + (2 << 20)).div_ceil(1 << 20) << 20).max(4 << 20);
    let fat_type = if size >= 16 << 20 {
        FatType::Fat16
    } else {
        FatType::Fat12
    };
    let mut disk = Cursor::new(vec![0u8; size as usize]);
    let mut name = [b' '; 11];
    for (d, s) in name.iter_mut().zip(label.bytes()) {
        *d = s.to_ascii_uppercase();
    }
    fatfs::format_volume(
        &mut disk,
        FormatVolumeOptions::new()
            .fat_type(fat_type)
            .volume_id(volume_id)
            .volume_label(name),
    )
    .map_err(bad)?;
    {
        let fs = FileSystem::new(&mut disk, FsOptions::new()).map_err(bad)?;
        for f in files {
            let root = fs.root_dir();
            let (dirs, file) = f.path.rsplit_once('/').unwrap_or(("", f.path));
            let mut dir = root;
            for d in dirs.split('/').filter(|d| !d.is_empty()) {
                dir = match dir.open_dir(d) {
                    Ok(existing) => existing,
                    Err(_) => dir.create_dir(d).map_err(bad)?,
                };
            }
            let mut out = dir.create_file(file).map_err(bad)?;
            out.truncate().map_err(bad)?;
            out.write_all(f.bytes).map_err(bad)?;
        }
        fs.unmount().map_err(bad)?;
    }
    Ok(disk.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_same_bytes_and_fsck_clean() {
        let files = [
            FatFile {
                path: "EFI/BOOT/BOOTX64.EFI",
                bytes: &[0x4d, 0x5a, 1, 2, 3],
            },
            FatFile {
                path: "liftkit/kernel",
                bytes: &vec![7u8; 100_000],
            },
        ];
        let a = image(&files, "liftkit", 0x1234_5678).unwrap();
        let b = image(&files, "liftkit", 0x1234_5678).unwrap();
        assert_eq!(a, b, "reproducible");
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("fat.img");
        std::fs::write(&p, &a).unwrap();
        // dosfstools' checker, read-only: the image is a valid FAT filesystem.
        let out = std::process::Command::new("fsck.vfat")
            .arg("-n")
            .arg(&p)
            .output()
            .expect("fsck.vfat (dosfstools)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let fs = FileSystem::new(Cursor::new(a), FsOptions::new()).unwrap();
        let mut f = fs.root_dir().open_file("liftkit/kernel").unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut back).unwrap();
        assert_eq!(back.len(), 100_000);
    }
}
