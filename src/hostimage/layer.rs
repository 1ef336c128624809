//! The app's root filesystem, from the OCI layout liftkit wrote (`out/<app>/oci/`): its layers
//! unpacked into the archive with owners and modes as the layer records them.

use super::cpio::{Archive, Data};
use super::HostImageError;
use std::io::Read;
use std::path::Path;

fn json(path: &Path) -> Result<serde_json::Value, HostImageError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    serde_json::from_str(&text)
        .map_err(|e| HostImageError::BadOutput(format!("{}: {e}", path.display())))
}

fn blob(oci: &Path, digest: &str) -> std::path::PathBuf {
    oci.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Unpacks every layer of the image in `oci` under `prefix`; returns the number of entries.
pub fn unpack(oci: &Path, prefix: &str, archive: &mut Archive) -> Result<usize, HostImageError> {
    let index = json(&oci.join("index.json"))?;
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .ok_or_else(|| HostImageError::BadOutput(format!("{}: no manifest", oci.display())))?;
    let manifest = json(&blob(oci, manifest_digest))?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let mut count = 0;
    for layer in layers {
        let digest = layer["digest"].as_str().unwrap_or_default();
        let path = blob(oci, digest);
        let file = std::fs::File::open(&path).map_err(|e| HostImageError::io(path.clone(), e))?;
        let gzip = layer["mediaType"]
            .as_str()
            .is_some_and(|m| m.ends_with("gzip"));
        let reader: Box<dyn Read> = if gzip {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        count += unpack_tar(reader, prefix, archive).map_err(|e| HostImageError::io(path, e))?;
    }
    Ok(count)
}

fn unpack_tar(reader: impl Read, prefix: &str, archive: &mut Archive) -> std::io::Result<usize> {
    let mut tar = tar::Archive::new(reader);
    let mut count = 0;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let rel = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            continue;
        }
        let h = entry.header();
        let (mode, uid, gid) = (h.mode()?, h.uid()? as u32, h.gid()? as u32);
        let kind = h.entry_type();
        let path = format!("{prefix}/{rel}");
        if kind.is_dir() {
            archive.dir(&path, mode, uid, gid);
        } else if kind.is_symlink() {
            let target = entry
                .link_name()?
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            archive.symlink(&path, &target, uid, gid);
        } else if kind.is_hard_link() {
            // A copy of what it links to: newc hard links need inode bookkeeping for a few bytes.
            let target = entry
                .link_name()?
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let target = format!(
                "{prefix}/{}",
                target.trim_start_matches("./").trim_start_matches('/')
            );
            if let Some(e) = archive.get(&target).cloned() {
                archive.file(&path, e.mode, e.uid, e.gid, e.data);
            }
        } else if kind.is_file() {
            let mut bytes = Vec::with_capacity(h.size()? as usize);
            entry.read_to_end(&mut bytes)?;
            archive.file(&path, mode, uid, gid, Data::Bytes(bytes));
        } else {
            continue; // devices and fifos: the runtime provides /dev
        }
        count += 1;
    }
    Ok(count)
}
