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

/// Replaces the descriptor's `CID=xxxxxxxx` (random in qemu-img) by 8 hex digits of the image's
/// digest without it: same length, so nothing else moves.
fn fix_cid(path: &Path) -> Result<(), HostImageError> {
    let mut b = std::fs::read(path).map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    let head = b.len().min(64 << 10);
    let Some(at) = b[..head].windows(5).position(|w| w == b"\nCID=") else {
        return Err(HostImageError::Tool(format!(
            "{}: no CID in the vmdk descriptor",
            path.display()
        )));
    };
    let value = at + 5..at + 13;
    b[value.clone()].copy_from_slice(b"00000000");
    let digest = Sha256::digest(&b);
    let cid = hex::encode(&digest[..4]);
    b[value].copy_from_slice(cid.as_bytes());
    std::fs::write(path, &b).map_err(|e| HostImageError::io(path.to_path_buf(), e))
}
