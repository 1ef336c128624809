//! The OCI image writer: a list of entries and a config in, one reproducible image out.
//!
//! `write_image` produces `out_dir/oci/` (an OCI image layout) and `out_dir/image.tar` (the same
//! layout plus docker's `manifest.json` and `repositories`, as `docker save` writes since Docker
//! 25), so `podman load`, `docker load`, `skopeo … oci-archive:` and `linuxkit cache import` all
//! accept the one file.
//!
//! The pieces, in the order they run: `entries` validates and orders the file list, `layer`
//! streams it into one gzip layer (`tarhdr` writes its headers field by field), `image` encodes
//! config, manifest and index, `layout` lays the blobs out and archives them, and `verify` reads
//! an image back.
//!
//! Same inputs give byte-identical output: entries are sorted, every mtime is `created`, gzip
//! headers carry no time or name, and JSON keys are sorted.

mod digest;
mod entries;
mod image;
mod layer;
mod layout;
mod tarhdr;
mod verify;

use crate::host::Host;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use digest::sha256_hex;
pub use image::host_arch;
pub use verify::{verify_layout, Verified};

/// One file-system object of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path in the image, e.g. `/usr/sbin/nginx`. `..` and relative paths are refused;
    /// `/` itself is ignored, since runtimes create the root directory themselves.
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky, kept exactly (e.g. `0o4755`, `0o700`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Source),
    /// The link target as stored on the host (absolute or relative, `..` allowed).
    Symlink(PathBuf),
    /// Absolute in-image path of another entry sharing this inode. The writer decides which of
    /// the group carries the content (the first in archive order), so callers need not.
    Hardlink(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A resolved path of the source host, streamed through the `Host` given to the writer
    /// (never held whole in memory, opened without updating its access time).
    Host(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// Reference such as `localhost/liftkit/nginx:1.22.1`; `:latest` is assumed without a tag.
    pub name: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: String,
    pub env: Vec<String>,
    pub working_dir: String,
    /// `"80/tcp"`-style keys.
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub stop_signal: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Set on the manifest and on its index entry.
    pub annotations: BTreeMap<String, String>,
    /// Seconds since the epoch (`SOURCE_DATE_EPOCH`): the image's creation time and every mtime.
    pub created: i64,
    /// `created_by` of the single history entry.
    pub history: String,
}

/// An artifact attached to the image as an OCI 1.1 referrer: a manifest whose `subject` is the
/// image's, listed in the layout's index beside it (as `oras attach --oci-layout` does), so
/// `oras discover`, registries' referrers API after a push, and scanners find it from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// `artifactType` of the manifest and media type of its one blob
    /// (`application/vnd.cyclonedx+json`).
    pub artifact_type: String,
    /// The blob's file name (`org.opencontainers.image.title`).
    pub title: String,
    pub bytes: Vec<u8>,
}

/// What was written, with the digests a caller reports or pushes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    pub diff_id: String,
    /// Size of the compressed layer blob.
    pub layer_size: u64,
    /// Size of the uncompressed layer tar.
    pub uncompressed_size: u64,
    pub image_tar: PathBuf,
    pub layout_dir: PathBuf,
    /// Digests of the referrer manifests, in the order given.
    pub referrers: Vec<String>,
    /// Problems that did not stop the build: files that vanished or changed size while read.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("invalid image path {path:?}: {why}")]
    InvalidPath { path: PathBuf, why: &'static str },
    #[error("{path:?}: its parent {parent:?} is not a directory in the image")]
    ParentNotDir { path: PathBuf, parent: PathBuf },
    #[error("hard link {path:?} -> {target:?}: {why}")]
    InvalidHardlink {
        path: PathBuf,
        target: PathBuf,
        why: &'static str,
    },
    #[error("invalid image name {name:?}: {why}")]
    InvalidName { name: String, why: &'static str },
    #[error("reading host file {path:?}: {source}")]
    HostRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("host file {path:?} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("writing {path:?}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("encoding image metadata: {0}")]
    Spec(#[from] oci_spec::OciSpecError),
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("image layout {path:?} is not valid: {why}")]
    Corrupt { path: PathBuf, why: String },
}

/// Writes the image described by `entries` and `config` into `out_dir` (`oci/` and
/// `image.tar`), replacing any previous image there.
///
/// Duplicate paths: the later entry wins. Host files that vanish before they are read are left
/// out with a warning (and so are hard links to them); files that change size while read are
/// padded or cut to the size first seen, with a warning, so the archive stays valid.
pub fn write_image(
    entries: Vec<Entry>,
    config: &ImageConfig,
    files: &dyn Host,
    out_dir: &Path,
) -> Result<Written, OciError> {
    write_image_with(entries, config, &[], files, out_dir)
}

/// [`write_image`], with artifacts attached to the image as referrers.
pub fn write_image_with(
    entries: Vec<Entry>,
    config: &ImageConfig,
    referrers: &[Referrer],
    files: &dyn Host,
    out_dir: &Path,
) -> Result<Written, OciError> {
    let reference = image::Reference::parse(&config.name)?;
    let entries = entries::prepare(entries)?;
    layout::write(&entries, config, referrers, &reference, files, out_dir)
}

/// Shorthand for the error of a failed write to `path`.
fn write_err(path: &Path) -> impl FnOnce(io::Error) -> OciError + '_ {
    move |source| OciError::Write {
        path: path.to_path_buf(),
        source,
    }
}
