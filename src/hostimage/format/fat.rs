//! FAT filesystem images (the EFI system partition, the boot partition of BIOS disks, the CD's
//! El Torito EFI image), written into a plain file by mtools (`mformat`, `mmd`, `mcopy`): no
//! loop device, no root. mtools dates every entry from SOURCE_DATE_EPOCH and liftkit gives the
//! volume serial, so the same files give the same bytes. (The `fatfs` crate was tried first:
//! dosfstools' fsck rejects the directories it writes.)

use super::super::tool::{self, Tool};
use super::super::HostImageError;
use std::path::Path;
use std::process::Command;

pub const MFORMAT: Tool = Tool {
    program: "mformat",
    package: "mtools",
    purpose: "FAT filesystems (EFI system partition, boot partition)",
};

/// A file to put on the filesystem: path with `/` separators, and its bytes.
pub struct FatFile<'a> {
    pub path: &'a str,
    pub bytes: &'a [u8],
}

/// A FAT image holding `files`, sized for them with room for FAT's own structures (mformat
/// picks FAT12 or FAT16 for the size). `label` is at most 11 characters.
pub fn image(
    files: &[FatFile],
    label: &str,
    volume_id: u32,
    work: &Path,
    epoch: u64,
) -> Result<Vec<u8>, HostImageError> {
    let mformat = tool::find(MFORMAT, "a FAT image")?;
    let bin = mformat
        .parent()
        .unwrap_or(Path::new("/usr/bin"))
        .to_path_buf();
    let dir = work.join("fat");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| HostImageError::io(dir.clone(), e))?;
    let img = dir.join("fat.img");
    let content: u64 = files.iter().map(|f| f.bytes.len() as u64 + 4096).sum();
    let size = ((content + content / 8 + (2 << 20)).div_ceil(1 << 20) << 20).max(4 << 20);
    let f = std::fs::File::create(&img).map_err(|e| HostImageError::io(img.clone(), e))?;
    f.set_len(size)
        .map_err(|e| HostImageError::io(img.clone(), e))?;
    let m = |program: &str| {
        let mut c = Command::new(bin.join(program));
        c.env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(&img);
        c
    };
    let label: String = label.chars().take(11).collect();
    tool::run(
        m("mformat")
            .args(["-N", &format!("{volume_id:08x}"), "-v", &label])
            .arg("::"),
    )?;
    let mut dirs: Vec<String> = Vec::new();
    for f in files {
        let mut at = String::new();
        for part in f
            .path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, d)| d)
        {
            at = if at.is_empty() {
                part.to_string()
            } else {
                format!("{at}/{part}")
            };
            if !dirs.contains(&at) {
                dirs.push(at.clone());
            }
        }
    }
    for d in &dirs {
        tool::run(m("mmd").arg(format!("::/{d}")))?;
    }
    for (i, f) in files.iter().enumerate() {
        let src = dir.join(format!("file-{i}"));
        std::fs::write(&src, f.bytes).map_err(|e| HostImageError::io(src.clone(), e))?;
        tool::run(m("mcopy").arg(&src).arg(format!("::/{}", f.path)))?;
    }
    let out = std::fs::read(&img).map_err(|e| HostImageError::io(img.clone(), e))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_same_bytes_and_fsck_clean() {
        let kernel = vec![7u8; 100_000];
        let files = [
            FatFile {
                path: "EFI/BOOT/BOOTX64.EFI",
                bytes: &[0x4d, 0x5a, 1, 2, 3],
            },
            FatFile {
                path: "liftkit/kernel",
                bytes: &kernel,
            },
        ];
        let tmp = tempfile::tempdir().unwrap();
        let a = image(&files, "LIFTKIT", 0x1234_5678, tmp.path(), 1_000_000_000).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = image(&files, "LIFTKIT", 0x1234_5678, tmp.path(), 1_000_000_000).unwrap();
        assert!(a == b, "reproducible");
        let p = tmp.path().join("fat.img");
        std::fs::write(&p, &a).unwrap();
        // dosfstools' checker, read-only: the image is a valid FAT filesystem.
        let out = Command::new("fsck.vfat")
            .arg("-n")
            .arg(&p)
            .output()
            .expect("fsck.vfat (dosfstools)");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && said.contains("6 files"), "{said}");
        let back = Command::new("mtype")
            .arg("-i")
            .arg(&p)
            .arg("::/liftkit/kernel")
            .output()
            .unwrap();
        assert_eq!(back.stdout, kernel);
    }
}
