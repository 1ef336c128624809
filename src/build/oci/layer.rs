//! The single layer: a deterministic tar streamed through gzip to a blob file, hashed on the way
//! (the uncompressed stream gives the diff_id, the compressed one the blob digest), so no file
//! is ever held whole in memory.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{Builder, EntryType};

use super::digest::{self, Blob, HashingWriter};
use super::tarhdr::{self, Meta};
use super::{write_err, Entry, EntryKind, OciError, Source};
use crate::host::Host;

/// A fixed level: the blob digest depends on it.
const GZIP_LEVEL: u32 = 6;
/// "Unknown" in the gzip header's OS byte, instead of whatever the build machine is.
const GZIP_OS_UNKNOWN: u8 = 255;

const TMP_NAME: &str = ".layer.tmp";

#[derive(Debug)]
pub(crate) struct Layer {
    pub blob: Blob,
    pub diff_id: String,
    pub uncompressed_size: u64,
    pub warnings: Vec<String>,
}

type Sink = HashingWriter<flate2::write::GzEncoder<HashingWriter<BufWriter<File>>>>;

/// Writes `entries` (already in archive order) as a gzip layer into `blobs_dir`.
pub(crate) fn write(
    entries: &[Entry],
    mtime: u64,
    files: &dyn Host,
    blobs_dir: &Path,
) -> Result<Layer, OciError> {
    let tmp = blobs_dir.join(TMP_NAME);
    let file = File::create(&tmp).map_err(write_err(&tmp))?;
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(
            HashingWriter::new(BufWriter::new(file)),
            Compression::new(GZIP_LEVEL),
        );
    let mut ar = Builder::new(HashingWriter::new(gz));
    let mut writer = LayerWriter {
        ar: &mut ar,
        files,
        mtime,
        skipped: BTreeSet::new(),
        warnings: Vec::new(),
        tmp: &tmp,
    };
    for entry in entries {
        writer.entry(entry)?;
    }
    let warnings = writer.warnings;
    let (gz, diff_hex, uncompressed_size) = ar.into_inner().map_err(write_err(&tmp))?.finish();
    let compressed = gz.finish().map_err(write_err(&tmp))?;
    let (buffered, blob_hex, size) = compressed.finish();
    let file = buffered
        .into_inner()
        .map_err(|e| write_err(&tmp)(e.into_error()))?;
    digest::sync(file, &tmp)?;
    digest::store_as(&tmp, blobs_dir, &blob_hex)?;
    Ok(Layer {
        blob: Blob {
            hex: blob_hex,
            size,
        },
        diff_id: format!("sha256:{diff_hex}"),
        uncompressed_size,
        warnings,
    })
}

struct LayerWriter<'a> {
    ar: &'a mut Builder<Sink>,
    /// Where `Source::Host` paths are read from.
    files: &'a dyn Host,
    mtime: u64,
    /// Files left out because they vanished; links to them are left out too.
    skipped: BTreeSet<PathBuf>,
    warnings: Vec<String>,
    tmp: &'a Path,
}

impl LayerWriter<'_> {
    fn entry(&mut self, entry: &Entry) -> Result<(), OciError> {
        let meta = Meta {
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            mtime: self.mtime,
        };
        let name = relative(&entry.path);
        match &entry.kind {
            EntryKind::Dir => {
                let mut dir = name;
                dir.push(b'/');
                self.plain(EntryType::Directory, &dir, None, meta)
            }
            EntryKind::Symlink(target) => {
                let target = target.as_os_str().as_bytes();
                self.plain(EntryType::Symlink, &name, Some(target), meta)
            }
            EntryKind::Hardlink(target) if self.skipped.contains(target) => {
                self.warnings.push(format!(
                    "{}: left out, it is a hard link to {} which vanished",
                    entry.path.display(),
                    target.display()
                ));
                Ok(())
            }
            EntryKind::Hardlink(target) => {
                let target = relative(target);
                self.plain(EntryType::Link, &name, Some(&target), meta)
            }
            EntryKind::File(Source::Bytes(bytes)) => {
                let size = bytes.len() as u64;
                tarhdr::append(
                    self.ar,
                    EntryType::Regular,
                    &name,
                    None,
                    meta,
                    size,
                    &bytes[..],
                )
                .map_err(write_err(self.tmp))
            }
            EntryKind::File(Source::Host(host)) => self.host_file(entry, host, &name, meta),
        }
    }

    fn plain(
        &mut self,
        kind: EntryType,
        name: &[u8],
        link: Option<&[u8]>,
        meta: Meta,
    ) -> Result<(), OciError> {
        tarhdr::append(self.ar, kind, name, link, meta, 0, io::empty()).map_err(write_err(self.tmp))
    }

    /// Streams a host file of a live system: the header promises the size seen at open, and
    /// exactly that many bytes follow whatever the file does meanwhile.
    fn host_file(
        &mut self,
        entry: &Entry,
        host: &Path,
        name: &[u8],
        meta: Meta,
    ) -> Result<(), OciError> {
        let Some(file) = self.open(entry, host)? else {
            return Ok(());
        };
        let size = file
            .metadata()
            .map_err(|source| host_err(host, source))?
            .len();
        let mut exact = Exact::new(file, size);
        let appended = tarhdr::append(
            self.ar,
            EntryType::Regular,
            name,
            None,
            meta,
            size,
            &mut exact,
        );
        if let Err(e) = appended {
            return Err(match exact.read_failed {
                true => host_err(host, e),
                false => write_err(self.tmp)(e),
            });
        }
        if exact.padded > 0 {
            self.warnings.push(format!(
                "{}: {} shrank while read; padded with {} zero bytes",
                entry.path.display(),
                host.display(),
                exact.padded
            ));
        }
        if exact.grew().map_err(|source| host_err(host, source))? {
            self.warnings.push(format!(
                "{}: {} grew while read; cut to its first {size} bytes",
                entry.path.display(),
                host.display()
            ));
        }
        Ok(())
    }

    /// Opens a host file, or records why it is left out. Anything but a regular file is refused
    /// before opening: opening a FIFO would block the build.
    fn open(&mut self, entry: &Entry, host: &Path) -> Result<Option<File>, OciError> {
        let opened = self
            .files
            .lstat(host)
            .and_then(|meta| match meta.is_file() {
                true => self.files.open_resolved(host).map(Some),
                false => Ok(None),
            });
        match opened {
            Ok(Some(file)) => Ok(Some(file)),
            Ok(None) => Err(OciError::NotAFile {
                path: host.to_path_buf(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.warnings.push(format!(
                    "{}: left out, {} vanished before it was read",
                    entry.path.display(),
                    host.display()
                ));
                self.skipped.insert(entry.path.clone());
                Ok(None)
            }
            // A file this user may not read (a run as non-root) or that became something other
            // than a regular file: the image is built without it, and says so.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidInput
                ) =>
            {
                self.warnings.push(format!(
                    "{}: left out, {} cannot be read: {e}",
                    entry.path.display(),
                    host.display()
                ));
                self.skipped.insert(entry.path.clone());
                Ok(None)
            }
            Err(e) => Err(host_err(host, e)),
        }
    }
}

fn host_err(path: &Path, source: io::Error) -> OciError {
    OciError::HostRead {
        path: path.to_path_buf(),
        source,
    }
}

/// The archive name of an absolute image path: `/usr/sbin/nginx` → `usr/sbin/nginx`.
fn relative(path: &Path) -> Vec<u8> {
    let bytes = path.as_os_str().as_bytes();
    bytes.strip_prefix(b"/").unwrap_or(bytes).to_vec()
}

/// Yields exactly `size` bytes of `inner`: zeros after a premature end, nothing past `size`.
struct Exact<R> {
    inner: R,
    left: u64,
    padded: u64,
    /// Whether an error came from the source, to tell it from a failing archive write.
    read_failed: bool,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, size: u64) -> Self {
        Exact {
            inner,
            left: size,
            padded: 0,
            read_failed: false,
        }
    }

    /// Whether the source still has data past the promised size.
    fn grew(&mut self) -> io::Result<bool> {
        let mut probe = [0u8; 1];
        loop {
            match self.inner.read(&mut probe) {
                Ok(n) => return Ok(n > 0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.padded {
            // Once the source has ended, it is not read again: a file that shrank and grew back
            // would otherwise splice unrelated bytes after the zeros.
            0 => self.inner.read(&mut buf[..want]).inspect_err(|e| {
                self.read_failed = e.kind() != io::ErrorKind::Interrupted;
            })?,
            _ => 0,
        };
        let n = match n {
            0 => {
                buf[..want].fill(0);
                self.padded += want as u64;
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(data: &[u8], size: u64) -> (Vec<u8>, u64, bool) {
        let mut reader = Exact::new(data, size);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        let grew = reader.grew().unwrap();
        (out, reader.padded, grew)
    }

    #[test]
    fn pads_a_short_source_and_cuts_a_long_one() {
        assert_eq!(exact(b"abc", 5), (b"abc\0\0".to_vec(), 2, false));
        assert_eq!(exact(b"abcdef", 4), (b"abcd".to_vec(), 0, true));
        assert_eq!(exact(b"abcd", 4), (b"abcd".to_vec(), 0, false));
    }

    #[test]
    fn interrupted_reads_are_retried_by_the_copy() {
        // `io::copy` retries `Interrupted`; the reader must not count it as data or as an end.
        struct Flaky(bool, &'static [u8]);
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 = !self.0;
                match self.0 {
                    true => Err(io::ErrorKind::Interrupted.into()),
                    false => self.1.read(buf),
                }
            }
        }
        let mut reader = Exact::new(Flaky(false, b"xyz"), 3);
        let mut out = Vec::new();
        io::copy(&mut reader, &mut out).unwrap();
        assert_eq!(out, b"xyz");
    }
}
