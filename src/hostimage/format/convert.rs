//! qcow2 and vmdk, converted from the raw disk by `qemu-img` (the converter every hypervisor
//! team has). qcow2 carries nothing time- or host-dependent; a vmdk's descriptor holds a random
//! content id (CID), which liftkit replaces with one derived from the image so the same inputs
//! give the same bytes.

use super::super::tool::{self, QEMU_IMG};
use super::super::HostImageError;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

pub fn convert(raw: &Path, out: &Path, format: &str) -> Result<(), HostImageError> {
    let program = tool::find(QEMU_IMG, format)?;
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(program);
    // One coroutine (`-m 1`): qemu-img's parallel writers may place a vmdk's compressed grains
    // in a different order from one run to the next (seen once in CI: two builds of the same
    // inputs differed), and the same inputs must give the same bytes.
    cmd.args(["convert", "-q", "-m", "1", "-f", "raw", "-O", format]);
    if format == "vmdk" {
        // What vSphere and VirtualBox import (OVF's disk format), compressed grains.
        cmd.args(["-o", "subformat=streamOptimized"]);
    }
    tool::run(cmd.arg(raw).arg(out))?;
    if format == "vmdk" {
        fix_cid(out)?;
    }
    Ok(())
}

/// Replaces the descriptor's `CID=…` (random in qemu-img, and printed without leading zeros, so
/// one build in sixteen has a shorter line) by 8 hex digits of the image's digest without it.
/// The descriptor is NUL-padded in its sectors: a shorter original line takes the difference
/// from that padding, so nothing after the descriptor moves and every build has the same bytes.
fn fix_cid(path: &Path) -> Result<(), HostImageError> {
    let mut b = std::fs::read(path).map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    set_cid(&mut b).map_err(|why| HostImageError::Tool(format!("{}: {why}", path.display())))?;
    std::fs::write(path, &b).map_err(|e| HostImageError::io(path.to_path_buf(), e))
}

fn set_cid(b: &mut [u8]) -> Result<(), &'static str> {
    let head = b.len().min(64 << 10);
    let at = b[..head]
        .windows(5)
        .position(|w| w == b"\nCID=")
        .ok_or("no CID in the vmdk descriptor")?
        + 5;
    let len = b[at..head]
        .iter()
        .position(|&c| c == b'\n')
        .filter(|&n| (1..=8).contains(&n))
        .ok_or("a CID of more than 8 digits")?;
    let nul = b[at..head]
        .iter()
        .position(|&c| c == 0)
        .map(|n| at + n)
        .ok_or("no padding after the vmdk descriptor")?;
    let grow = 8 - len;
    if b[nul..head].iter().take_while(|&&c| c == 0).count() < grow {
        return Err("no room in the vmdk descriptor for an 8-digit CID");
    }
    // The rest of the descriptor moves right by `grow` into its padding.
    b.copy_within(at + len..nul, at + 8);
    b[at..at + 8].copy_from_slice(b"00000000");
    let digest = Sha256::digest(&*b);
    b[at..at + 8].copy_from_slice(hex::encode(&digest[..4]).as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::set_cid;

    fn descriptor(cid: &str) -> Vec<u8> {
        let mut b = b"KDMV....# Disk DescriptorFile\nversion=1\nCID=".to_vec();
        b.extend(cid.as_bytes());
        b.extend(b"\nparentCID=ffffffff\ncreateType=\"streamOptimized\"\n");
        b.resize(1024, 0);
        b.extend(b"grains");
        b
    }

    #[test]
    fn a_short_random_cid_gives_the_same_bytes_as_a_long_one() {
        let (mut long, mut short) = (descriptor("9abcdef1"), descriptor("bcdef1"));
        set_cid(&mut long).unwrap();
        set_cid(&mut short).unwrap();
        assert_eq!(long, short);
        let text = String::from_utf8_lossy(&long[..200]).into_owned();
        assert!(text.contains("\nparentCID=ffffffff\n"), "{text}");
        let cid = text
            .split("\nCID=")
            .nth(1)
            .unwrap()
            .split('\n')
            .next()
            .unwrap();
        assert_eq!(cid.len(), 8, "{text}");
        assert!(long.ends_with(b"grains"));
        assert_eq!(long.len(), 1030);
    }

    #[test]
    fn a_descriptor_without_a_cid_or_room_is_refused() {
        let mut none = b"KDMV no descriptor".to_vec();
        assert!(set_cid(&mut none).is_err());
        let mut full = b"x\nCID=1\nparentCID=ffffffff\n\0".to_vec();
        assert!(set_cid(&mut full).is_err());
    }
}
