//! What a partition holds, from its signature: the file systems liftkit mounts, and the ones it
//! can only name (encryption, LVM, others) for a clear refusal.

use std::io::{self, Read, Seek, SeekFrom};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Ext {
        uuid: String,
    },
    Xfs {
        uuid: String,
    },
    /// Found but not mountable here; the name says what it is.
    Other(&'static str),
    Unknown,
}

impl Content {
    pub fn describe(&self) -> String {
        match self {
            Content::Ext { .. } => "ext2/3/4 file system".into(),
            Content::Xfs { .. } => "xfs file system".into(),
            Content::Other(what) => (*what).into(),
            Content::Unknown => "no file system liftkit knows".into(),
        }
    }

    pub fn uuid(&self) -> Option<&str> {
        match self {
            Content::Ext { uuid } | Content::Xfs { uuid } => Some(uuid),
            _ => None,
        }
    }
}

/// Reads the first 70 KiB of a partition (every signature probed lies there).
pub fn probe<R: Read + Seek>(r: &mut R, offset: u64, size: u64) -> io::Result<Content> {
    let len = size.min(70 * 1024) as usize;
    r.seek(SeekFrom::Start(offset))?;
    let mut b = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match r.read(&mut b[got..])? {
            0 => break,
            n => got += n,
        }
    }
    b.truncate(got);
    Ok(identify(&b))
}

pub fn identify(b: &[u8]) -> Content {
    let at = |o: usize, sig: &[u8]| b.get(o..o + sig.len()) == Some(sig);
    if at(0, b"LUKS\xba\xbe") || at(0, b"SKUL\xba\xbe") {
        return Content::Other("LUKS-encrypted volume (needs its passphrase: open it with cryptsetup and pass the mapped device's mount with --root)");
    }
    if at(512 + 24, b"LVM2 001") || at(24, b"LVM2 001") {
        return Content::Other("LVM2 physical volume (liftkit does not assemble volume groups: activate it with lvm, mount the root volume read-only and pass --root)");
    }
    if at(1024 + 56, &[0x53, 0xef]) {
        return Content::Ext {
            uuid: uuid(b.get(1024 + 0x68..1024 + 0x78)),
        };
    }
    if at(0, b"XFSB") {
        return Content::Xfs {
            uuid: uuid(b.get(32..48)),
        };
    }
    if at(65536 + 64, b"_BHRfS_M") {
        return Content::Other("btrfs file system (not supported)");
    }
    if at(4096 - 10, b"SWAPSPACE2") || at(4096 - 10, b"SWAP-SPACE") {
        return Content::Other("swap space (no file system on it)");
    }
    if at(3, b"NTFS    ") {
        return Content::Other("NTFS file system (not supported)");
    }
    if at(82, b"FAT32   ") || at(54, b"FAT16   ") || at(54, b"FAT12   ") {
        return Content::Other("FAT file system (an EFI or boot partition)");
    }
    if at(0x10000 + 0x34, b"ReIsEr") || at(0x8000 + 1, b"CD001") {
        return Content::Other("a file system liftkit does not support");
    }
    Content::Unknown
}

fn uuid(b: Option<&[u8]>) -> String {
    let Some(b) = b else { return String::new() };
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_it_cannot_mount() {
        let mut b = vec![0u8; 70 * 1024];
        b[..6].copy_from_slice(b"LUKS\xba\xbe");
        assert!(identify(&b).describe().starts_with("LUKS"));
        let mut b = vec![0u8; 70 * 1024];
        b[512 + 24..512 + 32].copy_from_slice(b"LVM2 001");
        assert!(identify(&b).describe().starts_with("LVM2"));
        let mut b = vec![0u8; 70 * 1024];
        b[1024 + 56] = 0x53;
        b[1024 + 57] = 0xef;
        assert!(matches!(identify(&b), Content::Ext { .. }));
        assert_eq!(identify(&[0u8; 10]), Content::Unknown);
    }
}
