//! The host's read-only system image: the same in-memory tree the initramfs is written from,
//! streamed as a tar (owners and modes exact, no root needed, nothing staged on disk) into
//! `tar2sqfs` (squashfs-tools-ng), which packs it as squashfs, LZ4HC-compressed, one job, so the
//! same tree gives the same bytes.
//!
//! Why LZ4HC and not xz: under TCG every page the app and its OCI runtime fault in is
//! decompressed by an emulated CPU, and xz is slow there (reading runc alone at boot took 1.0 s
//! on an idle machine). LZ4 decompresses several times faster for a disk a few MB larger; the
//! "hc" variant only costs time when the image is built.
//!
//! Why squashfs: the kernel unpacks an initramfs into RAM and keeps every byte there, so a layer
//! in the initramfs sits in memory uncompressed for the VM's life (and twice while the archive is
//! unpacked). A squashfs image stays compressed; the kernel decompresses pages on demand into the
//! page cache, which it can drop again. Init mounts it read-only as `/`.

use super::cpio::{Archive, Data, S_IFDIR, S_IFLNK, S_IFREG};
use super::tool::{self, TAR2SQFS};
use super::HostImageError;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Encodes `archive` as a squashfs image at `out`, every mtime `mtime`; device nodes are left
/// out (init mounts devtmpfs). Returns its size.
pub fn write(archive: &Archive, out: &Path, mtime: u32) -> Result<u64, HostImageError> {
    let program = tool::find(TAR2SQFS, "any")?;
    let _ = std::fs::remove_file(out);
    let mut child = Command::new(&program)
        .args(["-q", "-c", "lz4", "-X", "hc", "-j", "1", "-x", "-s"])
        .arg("-d")
        .arg(format!("uid=0,gid=0,mode=0755,mtime={mtime}"))
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostImageError::Tool(format!("{}: {e}", program.display())))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let fed = write_tar(archive, stdin, mtime);
    let result = child
        .wait_with_output()
        .map_err(|e| HostImageError::Tool(format!("{}: {e}", program.display())))?;
    if !result.status.success() {
        return Err(tool::failed("tar2sqfs", &result));
    }
    fed.map_err(|e| HostImageError::io(out.to_path_buf(), e))?;
    Ok(std::fs::metadata(out).map_or(0, |m| m.len()))
}

fn write_tar(archive: &Archive, sink: impl Write, mtime: u32) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(std::io::BufWriter::new(sink));
    for (path, e) in archive.entries() {
        let mut h = tar::Header::new_ustar();
        h.set_mode(e.mode & 0o7777);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(u64::from(mtime));
        match e.mode & 0o170000 {
            S_IFDIR => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            S_IFLNK => {
                let Data::Bytes(target) = &e.data else {
                    continue;
                };
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                let target = String::from_utf8_lossy(target).into_owned();
                tar.append_link(&mut h, path, target)?;
            }
            S_IFREG => {
                h.set_entry_type(tar::EntryType::Regular);
                match &e.data {
                    Data::None => {
                        h.set_size(0);
                        tar.append_data(&mut h, path, std::io::empty())?;
                    }
                    Data::Bytes(b) => {
                        h.set_size(b.len() as u64);
                        tar.append_data(&mut h, path, b.as_slice())?;
                    }
                    Data::File(p) => {
                        let f = std::fs::File::open(p).map_err(|err| {
                            std::io::Error::new(err.kind(), format!("{}: {err}", p.display()))
                        })?;
                        h.set_size(f.metadata()?.len());
                        tar.append_data(&mut h, path, f.take(u64::MAX))?;
                    }
                }
            }
            _ => {}
        }
    }
    tar.into_inner()?.flush()
}
