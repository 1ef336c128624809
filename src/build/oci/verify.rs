//! Reads an OCI layout back and checks it end to end: every blob against its digest and size,
//! every layer's uncompressed content against the config's diff_ids. A build can call it before
//! publishing; tests call it on what the writer produced.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::image::ANNOTATION_IMAGE_NAME;
use super::OciError;

/// One image of a verified layout.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `io.containerd.image.name` annotation of its index entry.
    pub name: Option<String>,
    pub manifest_digest: String,
    pub config: ImageConfiguration,
    pub layer_digests: Vec<String>,
}

/// Checks the layout at `dir` and returns its images in index order.
pub fn verify_layout(dir: &Path) -> Result<Vec<Verified>, OciError> {
    let corrupt = |why: String| OciError::Corrupt {
        path: dir.to_path_buf(),
        why,
    };
    let index = ImageIndex::from_file(dir.join("index.json"))?;
    if index.manifests().is_empty() {
        return Err(corrupt("index.json lists no manifest".into()));
    }
    let (artifacts, images): (Vec<&Descriptor>, Vec<&Descriptor>) = index
        .manifests()
        .iter()
        .partition(|d| d.artifact_type().is_some());
    let verified: Vec<Verified> = images
        .iter()
        .map(|entry| verify_image(dir, entry).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    for a in artifacts {
        verify_referrer(dir, a, &verified).map_err(corrupt)?;
    }
    Ok(verified)
}

/// An artifact the index lists: its blobs match their descriptors and its subject is one of
/// the layout's images.
fn verify_referrer(dir: &Path, entry: &Descriptor, images: &[Verified]) -> Result<(), String> {
    let manifest: ImageManifest = parse(&read_blob(dir, entry)?)?;
    read_blob(dir, manifest.config())?;
    for layer in manifest.layers() {
        read_blob(dir, layer)?;
    }
    let subject = manifest
        .subject()
        .as_ref()
        .ok_or_else(|| format!("artifact {} has no subject", entry.digest()))?;
    if !images
        .iter()
        .any(|i| i.manifest_digest == subject.digest().to_string())
    {
        return Err(format!(
            "artifact {} refers to {}, which the layout does not hold",
            entry.digest(),
            subject.digest()
        ));
    }
    Ok(())
}

fn verify_image(dir: &Path, entry: &Descriptor) -> Result<Verified, String> {
    let manifest: ImageManifest = parse(&read_blob(dir, entry)?)?;
    let config: ImageConfiguration = parse(&read_blob(dir, manifest.config())?)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err("config lists a different number of layers than the manifest".into());
    }
    for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let (actual_digest, actual_diff_id) =
            layer_digests(&blob_path(dir, layer)?, layer.media_type())
                .map_err(|e| format!("reading layer {}: {e}", layer.digest()))?;
        if actual_digest != layer.digest().to_string() || &actual_diff_id != diff_id {
            return Err(format!(
                "layer {} does not match its digests",
                layer.digest()
            ));
        }
    }
    Ok(Verified {
        name: entry
            .annotations()
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_IMAGE_NAME).cloned()),
        manifest_digest: entry.digest().to_string(),
        layer_digests: manifest
            .layers()
            .iter()
            .map(|l| l.digest().to_string())
            .collect(),
        config,
    })
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn blob_path(dir: &Path, desc: &Descriptor) -> Result<PathBuf, String> {
    let digest = desc.digest();
    let hex = digest.digest();
    if digest.algorithm().as_ref() != "sha256" || hex.contains('/') {
        return Err(format!("unsupported digest {digest}"));
    }
    Ok(dir.join("blobs/sha256").join(hex))
}

/// A small blob (JSON), checked against its descriptor.
fn read_blob(dir: &Path, desc: &Descriptor) -> Result<Vec<u8>, String> {
    let path = blob_path(dir, desc)?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != desc.digest().to_string() || bytes.len() as u64 != desc.size() {
        return Err(format!(
            "blob {} does not match its descriptor",
            desc.digest()
        ));
    }
    Ok(bytes)
}

/// The digest of a layer blob and of its uncompressed content. Two passes: the blob digest must
/// cover every byte of the file, wherever the compressed stream ends.
fn layer_digests(path: &Path, media_type: &MediaType) -> io::Result<(String, String)> {
    let blob = hash_reader(File::open(path)?)?;
    let file = File::open(path)?;
    let content = match media_type {
        // Go's gzip reader, which engines use, reads concatenated members; so does this one.
        MediaType::ImageLayerGzip => hash_reader(MultiGzDecoder::new(file))?,
        _ => hash_reader(file)?,
    };
    Ok((format!("sha256:{blob}"), format!("sha256:{content}")))
}

fn hash_reader(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = HashSink(Sha256::new());
    io::copy(&mut reader, &mut hasher)?;
    Ok(hex::encode(hasher.0.finalize()))
}

struct HashSink(Sha256);

impl io::Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
