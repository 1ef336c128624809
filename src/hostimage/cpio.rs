//! The initramfs: a gzip'd cpio archive in the kernel's `newc` format, written from an in-memory
//! tree so owners and modes are exact without root, and entries sorted for reproducible bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Clone)]
pub enum Data {
    None,
    Bytes(Vec<u8>),
    /// Read when the archive is written, so large files are not held twice.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub data: Data,
    /// Device number (major, minor) of a device node.
    pub rdev: (u32, u32),
}

/// Paths are relative to the archive root, without a leading `/`.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

fn clean(path: &str) -> String {
    path.trim_matches('/').to_string()
}

impl Archive {
    pub fn dir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) {
        self.parents(path);
        self.entries.insert(
            clean(path),
            Entry {
                mode: S_IFDIR | (mode & 0o7777),
                uid,
                gid,
                data: Data::None,
                rdev: (0, 0),
            },
        );
    }

    pub fn file(&mut self, path: &str, mode: u32, uid: u32, gid: u32, data: Data) {
        self.parents(path);
        self.entries.insert(
            clean(path),
            Entry {
                mode: S_IFREG | (mode & 0o7777),
                uid,
                gid,
                data,
                rdev: (0, 0),
            },
        );
    }

    pub fn symlink(&mut self, path: &str, target: &str, uid: u32, gid: u32) {
        self.parents(path);
        self.entries.insert(
            clean(path),
            Entry {
                mode: S_IFLNK | 0o777,
                uid,
                gid,
                data: Data::Bytes(target.as_bytes().to_vec()),
                rdev: (0, 0),
            },
        );
    }

    pub fn char_device(&mut self, path: &str, mode: u32, major: u32, minor: u32) {
        self.parents(path);
        self.entries.insert(
            clean(path),
            Entry {
                mode: S_IFCHR | (mode & 0o7777),
                uid: 0,
                gid: 0,
                data: Data::None,
                rdev: (major, minor),
            },
        );
    }

    /// Every entry, parents before their children (paths in byte order).
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(&clean(path))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Missing parent directories appear as root-owned 0755, as `mkdir -p` would make them.
    fn parents(&mut self, path: &str) {
        let path = clean(path);
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let parent = &path[..at + i];
            self.entries.entry(parent.to_string()).or_insert(Entry {
                mode: S_IFDIR | 0o755,
                uid: 0,
                gid: 0,
                data: Data::None,
                rdev: (0, 0),
            });
            at += i + 1;
        }
    }

    /// Writes the archive (uncompressed) with every mtime set to `mtime`.
    pub fn write<W: Write>(&self, out: &mut W, mtime: u32) -> io::Result<u64> {
        let mut w = Counting { inner: out, n: 0 };
        for (ino, (name, e)) in self.entries.iter().enumerate() {
            let owned;
            let data: &[u8] = match &e.data {
                Data::None => &[],
                Data::Bytes(b) => b,
                Data::File(p) => {
                    owned = std::fs::read(p).map_err(|err| {
                        io::Error::new(err.kind(), format!("{}: {err}", p.display()))
                    })?;
                    &owned
                }
            };
            let nlink = if e.mode & 0o170000 == S_IFDIR { 2 } else { 1 };
            header(
                &mut w,
                ino as u32 + 1,
                e,
                nlink,
                mtime,
                data.len() as u32,
                name,
            )?;
            w.write_all(data)?;
            pad(&mut w)?;
        }
        let trailer = Entry {
            mode: 0,
            uid: 0,
            gid: 0,
            data: Data::None,
            rdev: (0, 0),
        };
        header(&mut w, 0, &trailer, 1, 0, 0, "TRAILER!!!")?;
        Ok(w.n)
    }
}

fn header<W: Write>(
    w: &mut Counting<W>,
    ino: u32,
    e: &Entry,
    nlink: u32,
    mtime: u32,
    size: u32,
    name: &str,
) -> io::Result<()> {
    let fields = [
        ino,
        e.mode,
        e.uid,
        e.gid,
        nlink,
        mtime,
        size,
        0,
        0,
        e.rdev.0,
        e.rdev.1,
        name.len() as u32 + 1,
        0,
    ];
    let mut h = String::from("070701");
    for f in fields {
        h.push_str(&format!("{f:08x}"));
    }
    w.write_all(h.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    pad(w)
}

fn pad<W: Write>(w: &mut Counting<W>) -> io::Result<()> {
    let n = (4 - (w.n % 4) as usize) % 4;
    w.write_all(&[0u8; 3][..n])
}

struct Counting<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout_is_aligned_and_has_parents() {
        let mut a = Archive::default();
        a.file(
            "etc/liftkit/init.conf",
            0o644,
            0,
            0,
            Data::Bytes(b"runtime /x\n".to_vec()),
        );
        a.symlink("lib64", "usr/lib64", 0, 0);
        assert!(a.get("etc").is_some() && a.get("etc/liftkit").is_some());
        let mut out = Vec::new();
        let n = a.write(&mut out, 0).unwrap();
        assert_eq!(n as usize, out.len());
        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("etc/liftkit/init.conf\0") && text.contains("TRAILER!!!\0"));
    }
}
