//! Finding a disk by what is on it: the data disk by its ext4 label, the system partition of a
//! disk image by its squashfs superblock. Device names depend on the order disks are attached
//! in; contents do not.

use std::io::Read;
use std::time::{Duration, Instant};

/// ext4's superblock is at 1024; its magic at +0x38, its volume label at +0x78.
pub fn ext4_label(head: &[u8]) -> Option<String> {
    let sb = head.get(1024..1024 + 0x88)?;
    if sb[0x38..0x3a] != [0x53, 0xef] {
        return None;
    }
    let label = &sb[0x78..0x88];
    let end = label.iter().position(|b| *b == 0).unwrap_or(label.len());
    Some(String::from_utf8_lossy(&label[..end]).into_owned())
}

/// The first block device (whole disk or partition) whose first `len` bytes satisfy `wanted`,
/// looking again until `wait` has passed: disks and their partitions appear as drivers probe.
pub fn find(len: usize, wait: Duration, wanted: impl Fn(&[u8]) -> bool) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/block")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
            .collect();
        names.sort();
        for n in names {
            let dev = format!("/dev/{n}");
            let mut head = vec![0u8; len];
            let ok = std::fs::File::open(&dev)
                .and_then(|mut f| f.read_exact(&mut head))
                .is_ok();
            if ok && wanted(&head) {
                return Some(dev);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lowercase hex, for comparing a superblock with the one on the command line.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ext4_label() {
        let mut head = vec![0u8; 2048];
        head[1024 + 0x38..1024 + 0x3a].copy_from_slice(&[0x53, 0xef]);
        head[1024 + 0x78..1024 + 0x78 + 12].copy_from_slice(b"liftkit-data");
        assert_eq!(ext4_label(&head).as_deref(), Some("liftkit-data"));
        head[1024 + 0x38] = 0;
        assert_eq!(ext4_label(&head), None, "not ext4");
        assert_eq!(ext4_label(&[0u8; 100]), None);
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
    }
}
