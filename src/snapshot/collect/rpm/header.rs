//! rpm's header format, as the package database stores one header per installed package: an
//! index of big-endian `(tag, type, offset, count)` entries and a data store they point into.
//!
//! Only the tags liftkit uses are decoded; everything is bounds-checked, since a database on a
//! disk image is input like any other.

use std::collections::BTreeMap;

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const SIZE: u32 = 1009;
const ARCH: u32 = 1022;
const OLDFILENAMES: u32 = 1027;
const FILEMODES: u32 = 1030;
const FILEDIGESTS: u32 = 1035;
const FILEFLAGS: u32 = 1037;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;
const LONGSIZE: u32 = 5009;
const FILEDIGESTALGO: u32 = 5011;

/// `RPMFILE_CONFIG`: the file is `%config`, the operator's to change.
const FLAG_CONFIG: u32 = 1;

/// A header larger than this is not one rpm wrote (rpm's own limit is 256 MiB of data).
const MAX_HEADER: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header truncated ({0} bytes)")]
    Truncated(usize),
    #[error("header index names {entries} entries and {data} data bytes, more than it holds")]
    Bounds { entries: u32, data: u32 },
    #[error("tag {0}: value outside the header's data")]
    Value(u32),
    #[error("no package name in the header")]
    NoName,
}

/// The digest algorithm of `FILEDIGESTS` (OpenPGP hash ids, as rpm records them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgo {
    Md5,
    Sha1,
    Sha256,
    Other(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    pub path: String,
    pub mode: u16,
    pub config: bool,
    /// Lowercase hex; empty for directories, links and ghosts.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    /// `[epoch:]version-release`, as `rpm -q --qf '%{EVR}'` prints it.
    pub evr: String,
    pub arch: String,
    pub size: u64,
    pub digest_algo: DigestAlgo,
    pub files: Vec<RpmFile>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

struct Raw<'a> {
    entries: BTreeMap<u32, Entry>,
    data: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a header blob as the database stores it (no leading magic).
pub fn parse(blob: &[u8]) -> Result<RpmHeader, HeaderError> {
    let raw = Raw::new(blob)?;
    let name = raw.string(NAME)?.ok_or(HeaderError::NoName)?;
    let version = raw.string(VERSION)?.unwrap_or_default();
    let release = raw.string(RELEASE)?.unwrap_or_default();
    let epoch = raw.ints(EPOCH)?.first().copied();
    let evr = match epoch {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    let size = match raw.int64(LONGSIZE)? {
        Some(s) => s,
        None => raw.ints(SIZE)?.first().copied().unwrap_or(0) as u64,
    };
    let digest_algo = match raw.ints(FILEDIGESTALGO)?.first() {
        None | Some(1) => DigestAlgo::Md5,
        Some(2) => DigestAlgo::Sha1,
        Some(8) => DigestAlgo::Sha256,
        Some(&n) => DigestAlgo::Other(n),
    };
    Ok(RpmHeader {
        files: files(&raw)?,
        name,
        evr,
        arch: raw.string(ARCH)?.unwrap_or_default(),
        size,
        digest_algo,
    })
}

fn files(raw: &Raw) -> Result<Vec<RpmFile>, HeaderError> {
    let paths: Vec<String> = if raw.entries.contains_key(&BASENAMES) {
        let base = raw.strings(BASENAMES)?;
        let dirs = raw.strings(DIRNAMES)?;
        let index = raw.ints(DIRINDEXES)?;
        base.iter()
            .enumerate()
            .map(|(i, b)| {
                let dir = index
                    .get(i)
                    .and_then(|&d| dirs.get(d as usize))
                    .ok_or(HeaderError::Value(DIRINDEXES))?;
                Ok(format!("{dir}{b}"))
            })
            .collect::<Result<_, HeaderError>>()?
    } else {
        raw.strings(OLDFILENAMES)?
    };
    let modes = raw.shorts(FILEMODES)?;
    let flags = raw.ints(FILEFLAGS)?;
    let digests = raw.strings(FILEDIGESTS)?;
    Ok(paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| RpmFile {
            path,
            mode: modes.get(i).copied().unwrap_or(0),
            config: flags.get(i).is_some_and(|f| f & FLAG_CONFIG != 0),
            digest: digests.get(i).cloned().unwrap_or_default(),
        })
        .collect())
}

impl<'a> Raw<'a> {
    fn new(blob: &'a [u8]) -> Result<Self, HeaderError> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(HeaderError::Truncated(blob.len()));
        };
        let index_len = (il as usize).checked_mul(16);
        let end = index_len
            .and_then(|i| i.checked_add(8))
            .and_then(|i| i.checked_add(dl as usize));
        match end {
            Some(end) if end <= blob.len() && end <= MAX_HEADER => {}
            _ => {
                return Err(HeaderError::Bounds {
                    entries: il,
                    data: dl,
                })
            }
        }
        let store = 8 + il as usize * 16;
        let data = &blob[store..store + dl as usize];
        let mut entries = BTreeMap::new();
        for i in 0..il as usize {
            let at = 8 + i * 16;
            let (Some(tag), Some(kind), Some(offset), Some(count)) = (
                be32(blob, at),
                be32(blob, at + 4),
                be32(blob, at + 8),
                be32(blob, at + 12),
            ) else {
                return Err(HeaderError::Truncated(blob.len()));
            };
            entries.entry(tag).or_insert(Entry {
                kind,
                offset: offset as usize,
                count: count as usize,
            });
        }
        Ok(Raw { entries, data })
    }

    /// Fixed-width values: `width` bytes each, big-endian.
    fn fixed(&self, tag: u32, width: usize) -> Result<Option<&'a [u8]>, HeaderError> {
        let Some(e) = self.entries.get(&tag) else {
            return Ok(None);
        };
        let len = e.count.checked_mul(width).ok_or(HeaderError::Value(tag))?;
        let end = e.offset.checked_add(len).ok_or(HeaderError::Value(tag))?;
        self.data
            .get(e.offset..end)
            .map(Some)
            .ok_or(HeaderError::Value(tag))
    }

    fn ints(&self, tag: u32) -> Result<Vec<u32>, HeaderError> {
        Ok(self
            .fixed(tag, 4)?
            .map(|b| {
                b.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn shorts(&self, tag: u32) -> Result<Vec<u16>, HeaderError> {
        Ok(self
            .fixed(tag, 2)?
            .map(|b| {
                b.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn int64(&self, tag: u32) -> Result<Option<u64>, HeaderError> {
        Ok(self.fixed(tag, 8)?.and_then(|b| {
            b.get(..8)
                .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
        }))
    }

    /// NUL-terminated strings from the entry's offset: one for STRING, `count` for arrays.
    fn strings(&self, tag: u32) -> Result<Vec<String>, HeaderError> {
        let Some(e) = self.entries.get(&tag) else {
            return Ok(Vec::new());
        };
        let count = if e.kind == 6 { 1 } else { e.count };
        let mut at = e.offset;
        let mut out = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let rest = self.data.get(at..).ok_or(HeaderError::Value(tag))?;
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(HeaderError::Value(tag))?;
            out.push(String::from_utf8_lossy(&rest[..nul]).into_owned());
            at += nul + 1;
        }
        Ok(out)
    }

    fn string(&self, tag: u32) -> Result<Option<String>, HeaderError> {
        Ok(self.strings(tag)?.into_iter().next())
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds a header blob the way rpm lays one out, for the readers' tests.
    pub fn blob(tags: &[(u32, u32, Vec<u8>, u32)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, value, count) in tags {
            let align = match kind {
                3 => 2,
                4 => 4,
                5 => 8,
                _ => 1,
            };
            while data.len() % align != 0 {
                data.push(0);
            }
            for v in [*tag, *kind, data.len() as u32, *count] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            data.extend_from_slice(value);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }

    pub fn sample(name: &str) -> Vec<u8> {
        blob(&[
            (NAME, 6, s(name), 1),
            (VERSION, 6, s("2.4.57"), 1),
            (RELEASE, 6, s("5.el9"), 1),
            (EPOCH, 4, 1u32.to_be_bytes().to_vec(), 1),
            (SIZE, 4, 4096u32.to_be_bytes().to_vec(), 1),
            (ARCH, 6, s("x86_64"), 1),
            (
                FILEMODES,
                3,
                [0o100644u16, 0o100755]
                    .iter()
                    .flat_map(|m| m.to_be_bytes())
                    .collect(),
                2,
            ),
            (FILEDIGESTS, 8, [s("ab12"), s("cd34")].concat(), 2),
            (
                FILEFLAGS,
                4,
                [1u32, 0].iter().flat_map(|m| m.to_be_bytes()).collect(),
                2,
            ),
            (
                DIRINDEXES,
                4,
                [0u32, 1].iter().flat_map(|m| m.to_be_bytes()).collect(),
                2,
            ),
            (BASENAMES, 8, [s("httpd.conf"), s("httpd")].concat(), 2),
            (
                DIRNAMES,
                8,
                [s("/etc/httpd/conf/"), s("/usr/sbin/")].concat(),
                2,
            ),
            (FILEDIGESTALGO, 4, 8u32.to_be_bytes().to_vec(), 1),
        ])
    }

    #[test]
    fn decodes_names_versions_and_files() {
        let h = parse(&sample("httpd")).unwrap();
        assert_eq!(h.name, "httpd");
        assert_eq!(h.evr, "1:2.4.57-5.el9");
        assert_eq!(h.arch, "x86_64");
        assert_eq!(h.size, 4096);
        assert_eq!(h.digest_algo, DigestAlgo::Sha256);
        assert_eq!(h.files[0].path, "/etc/httpd/conf/httpd.conf");
        assert!(h.files[0].config);
        assert_eq!(h.files[1].path, "/usr/sbin/httpd");
        assert_eq!(h.files[1].mode, 0o100755);
        assert!(!h.files[1].config);
        assert_eq!(h.files[1].digest, "cd34");
    }

    #[test]
    fn refuses_truncated_and_out_of_bounds_headers() {
        let b = sample("httpd");
        for cut in [0, 4, 7, 20, b.len() - 1] {
            assert!(parse(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = b.clone();
        // Point NAME's offset past the data store.
        bad[8 + 8..8 + 12].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        assert_eq!(parse(&bad), Err(HeaderError::Value(NAME)));
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(parse(&huge), Err(HeaderError::Bounds { .. })));
    }
}
