//! Content addressing: hashing while streaming, and blobs stored under their digest.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{write_err, OciError};

/// A stored blob: its sha256 (hex, without the `sha256:` prefix) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    pub hex: String,
    pub size: u64,
}

impl Blob {
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    /// The blob's path relative to the layout root, as archives and `manifest.json` name it.
    pub fn rel_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex)
    }
}

/// A writer that hashes and counts every byte it passes on.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the hex digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores `bytes` as `blobs_dir/<hex>`.
pub(crate) fn write_blob(blobs_dir: &Path, bytes: &[u8]) -> Result<Blob, OciError> {
    let hex = sha256_hex(bytes);
    let path = blobs_dir.join(&hex);
    let mut file = File::create(&path).map_err(write_err(&path))?;
    file.write_all(bytes).map_err(write_err(&path))?;
    sync(file, &path)?;
    Ok(Blob {
        hex,
        size: bytes.len() as u64,
    })
}

/// Moves a finished temporary file to its content address in `blobs_dir`.
pub(crate) fn store_as(tmp: &Path, blobs_dir: &Path, hex: &str) -> Result<PathBuf, OciError> {
    let path = blobs_dir.join(hex);
    fs::rename(tmp, &path).map_err(write_err(&path))?;
    Ok(path)
}

/// Flushes a blob file to disk, so a crash after the final rename cannot leave a layout whose
/// index names blobs that were never written.
pub(crate) fn sync(file: File, path: &Path) -> Result<(), OciError> {
    file.sync_all().map_err(write_err(path))
}
