//! The OCI layout directory and the `image.tar` that carries it, built in a staging directory
//! inside `out_dir` and moved into place only when complete: an interrupted build leaves nothing
//! that looks like an image.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType};

use super::digest::{self, Blob};
use super::image::{self, Reference};
use super::tarhdr::{self, Meta};
use super::{layer, write_err, Entry, ImageConfig, OciError, Written};

const LAYOUT_DIR: &str = "oci";
const ARCHIVE: &str = "image.tar";

/// Writes layout and archive for `entries` (in archive order) and moves them into `out_dir`.
pub(crate) fn write(
    entries: &[Entry],
    cfg: &ImageConfig,
    referrers: &[super::Referrer],
    reference: &Reference,
    files: &dyn crate::host::Host,
    out_dir: &Path,
) -> Result<Written, OciError> {
    fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    let staging = Staging::create(out_dir)?;
    let layout = staging.path.join(LAYOUT_DIR);
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(write_err(&blobs))?;

    let mtime = u64::try_from(cfg.created).unwrap_or(0);
    let layer = layer::write(entries, mtime, files, &blobs)?;
    let config = digest::write_blob(&blobs, &image::config_json(cfg, &layer.diff_id)?)?;
    let manifest = digest::write_blob(&blobs, &image::manifest_json(cfg, &config, &layer.blob)?)?;
    let mut attached = Vec::new();
    for r in referrers {
        let empty = digest::write_blob(&blobs, image::EMPTY_JSON)?;
        let payload = digest::write_blob(&blobs, &r.bytes)?;
        let json = image::referrer_manifest_json(r, &empty, &payload, &manifest, cfg.created)?;
        let artifact = digest::write_blob(&blobs, &json)?;
        attached.push((r.artifact_type.clone(), artifact));
    }
    // The layout lists the referrers beside the image (OCI 1.1). The archive keeps an index of
    // the image alone: its loaders (podman, docker, skopeo's and syft's `oci-archive:`,
    // linuxkit) take an archive of exactly one manifest, and the SBOM is inside the image too.
    write_file(
        &layout.join("index.json"),
        &image::index_json(cfg, reference, &manifest, &attached)?,
    )?;
    let docs = Documents {
        oci_layout: image::oci_layout_json()?,
        index: image::index_json(cfg, reference, &manifest, &[])?,
        docker_manifest: image::docker_manifest_json(reference, &config, &layer.blob)?,
        repositories: image::repositories_json(reference, &layer.blob)?,
    };
    write_file(&layout.join("oci-layout"), &docs.oci_layout)?;

    // The archive lists blobs in digest order, so it does not depend on which blob is which.
    let mut blob_list = vec![&layer.blob, &config, &manifest];
    blob_list.sort_by(|a, b| a.hex.cmp(&b.hex));
    let archive = staging.path.join(ARCHIVE);
    write_archive(&archive, &layout, &docs, &blob_list, mtime)?;

    staging.commit(out_dir)?;
    Ok(Written {
        manifest_digest: manifest.digest(),
        config_digest: config.digest(),
        layer_digest: layer.blob.digest(),
        diff_id: layer.diff_id,
        layer_size: layer.blob.size,
        uncompressed_size: layer.uncompressed_size,
        image_tar: out_dir.join(ARCHIVE),
        layout_dir: out_dir.join(LAYOUT_DIR),
        referrers: attached.iter().map(|(_, b)| b.digest()).collect(),
        warnings: layer.warnings,
    })
}

/// The small files of the layout and of docker's loader, kept in memory for the archive.
struct Documents {
    oci_layout: Vec<u8>,
    index: Vec<u8>,
    docker_manifest: Vec<u8>,
    repositories: Vec<u8>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let mut file = File::create(path).map_err(write_err(path))?;
    file.write_all(bytes).map_err(write_err(path))?;
    digest::sync(file, path)
}

/// `image.tar`: the layout, plus `manifest.json` and `repositories`, as `docker save` lays them
/// out; root-owned, mtime `created`, in a fixed order.
fn write_archive(
    path: &Path,
    layout: &Path,
    docs: &Documents,
    blobs: &[&Blob],
    mtime: u64,
) -> Result<(), OciError> {
    let file = File::create(path).map_err(write_err(path))?;
    let mut ar = Builder::new(BufWriter::new(file));
    archive_members(&mut ar, layout, docs, blobs, mtime).map_err(write_err(path))?;
    let buffered = ar.into_inner().map_err(write_err(path))?;
    let file = buffered
        .into_inner()
        .map_err(|e| write_err(path)(e.into_error()))?;
    digest::sync(file, path)
}

fn archive_members<W: Write>(
    ar: &mut Builder<W>,
    layout: &Path,
    docs: &Documents,
    blobs: &[&Blob],
    mtime: u64,
) -> io::Result<()> {
    let meta = |mode| Meta {
        mode,
        uid: 0,
        gid: 0,
        mtime,
    };
    let small = [
        ("oci-layout", &docs.oci_layout),
        ("index.json", &docs.index),
        ("manifest.json", &docs.docker_manifest),
        ("repositories", &docs.repositories),
    ];
    for (name, bytes) in small {
        let size = bytes.len() as u64;
        let name = name.as_bytes();
        tarhdr::append(
            ar,
            EntryType::Regular,
            name,
            None,
            meta(0o644),
            size,
            &bytes[..],
        )?;
    }
    for dir in ["blobs/", "blobs/sha256/"] {
        let dir = dir.as_bytes();
        tarhdr::append(
            ar,
            EntryType::Directory,
            dir,
            None,
            meta(0o755),
            0,
            io::empty(),
        )?;
    }
    for blob in blobs {
        let rel = blob.rel_path();
        let source = File::open(layout.join(&rel))?;
        let name = rel.as_bytes();
        tarhdr::append(
            ar,
            EntryType::Regular,
            name,
            None,
            meta(0o644),
            blob.size,
            source,
        )?;
    }
    Ok(())
}

/// A hidden directory inside `out_dir` holding the image until it is complete; removed on drop,
/// so a failed build cleans up after itself.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn create(out_dir: &Path) -> Result<Self, OciError> {
        let path = out_dir.join(format!(".liftkit-oci-staging-{}", std::process::id()));
        // A leftover of a killed build by a process that had our pid: never a live one.
        if path.exists() {
            fs::remove_dir_all(&path).map_err(write_err(&path))?;
        }
        fs::create_dir(&path).map_err(write_err(&path))?;
        Ok(Staging { path })
    }

    /// Replaces the image in `out_dir`. The old archive goes first and the new one comes last, so
    /// at any moment an `image.tar` present is complete and matches the layout beside it.
    fn commit(self, out_dir: &Path) -> Result<(), OciError> {
        let archive = out_dir.join(ARCHIVE);
        let layout = out_dir.join(LAYOUT_DIR);
        match fs::remove_file(&archive) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(write_err(&archive)(e)),
            _ => {}
        }
        if layout.exists() {
            // Moved aside rather than deleted in place, so the swap itself is two renames.
            let old = self.path.join("old-oci");
            fs::rename(&layout, &old).map_err(write_err(&layout))?;
        }
        fs::rename(self.path.join(LAYOUT_DIR), &layout).map_err(write_err(&layout))?;
        fs::rename(self.path.join(ARCHIVE), &archive).map_err(write_err(&archive))?;
        sync_dir(out_dir)
        // Dropping `self` removes the staging directory and the old layout in it.
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Best effort: the directory is hidden and holds nothing that looks like an image.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Makes the renames durable.
fn sync_dir(dir: &Path) -> Result<(), OciError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_err(dir))
}
