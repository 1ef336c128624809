//! `/etc/ld.so.cache`, as glibc's `dl-cache.c` reads it.
//!
//! Two layouts exist: the current one (`glibc-ld.so.cache1.1`, entries of 24 bytes with a hwcap
//! word and an extension directory naming the `glibc-hwcaps` subdirectories), and the libc5-era
//! one (`ld.so-1.7.0`, 12-byte entries), which older ldconfigs wrote in front of the new one.
//! When both are present glibc uses the new one, and so do we.

use std::collections::HashMap;

const MAGIC_OLD: &[u8] = b"ld.so-1.7.0";
const MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const EXTENSION_MAGIC: u32 = 0xEAA4_2174;
const EXTENSION_TAG_GLIBC_HWCAPS: u32 = 1;
/// Bit 62 marks an entry whose low 32 bits index the glibc-hwcaps subdirectory names.
const HWCAP_EXTENSION: u64 = 1 << 62;
const HWCAP_ISA_LEVEL_MASK: u64 = (1 << 10) - 1;
const HWCAP_TLS: u64 = 1 << 63;
/// A cache with more entries than this is corrupt (a full distribution has a few thousand).
const MAX_ENTRIES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("unknown ld.so.cache format")]
    UnknownFormat,
    #[error("ld.so.cache truncated ({0})")]
    Truncated(&'static str),
}

#[derive(Debug, Clone)]
struct Entry {
    flags: i32,
    hwcap: u64,
    path: String,
}

/// A cache hit: the path ld.so would open, and the glibc-hwcaps subdirectory it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub path: String,
    pub hwcaps: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LdCache {
    /// Entries per library name, in file order (which is the order glibc scans them in).
    entries: HashMap<String, Vec<Entry>>,
    hwcaps: Vec<String>,
    pub format: &'static str,
}

impl LdCache {
    pub fn parse(bytes: &[u8]) -> Result<LdCache, CacheError> {
        if bytes.starts_with(MAGIC_NEW) {
            return parse_new(bytes, 0);
        }
        if !bytes.starts_with(MAGIC_OLD) {
            return Err(CacheError::UnknownFormat);
        }
        let nlibs = u32_at(bytes, 12, true).ok_or(CacheError::Truncated("header"))? as usize;
        let end_old = nlibs
            .checked_mul(OLD_ENTRY)
            .and_then(|n| n.checked_add(OLD_HEADER))
            .filter(|&e| e <= bytes.len())
            .ok_or(CacheError::Truncated("old entries"))?;
        // The new format, when present, follows the old entries at 8-byte alignment.
        let new_at = (end_old + 7) & !7;
        if bytes
            .get(new_at..)
            .is_some_and(|b| b.starts_with(MAGIC_NEW))
        {
            return parse_new(bytes, new_at);
        }
        parse_old(bytes, nlibs.min(MAX_ENTRIES), end_old)
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// glibc's `search_cache`: among entries for `name` whose flags `accepts`, named-hwcaps
    /// entries (listed first) compete by `priority` (lower wins; None = not usable on the target
    /// CPU); a plain entry is taken only when no hwcaps entry matched.
    pub fn lookup(
        &self,
        name: &str,
        exact_flags: i32,
        accepts: impl Fn(i32) -> bool,
        priority: impl Fn(&str) -> Option<u32>,
    ) -> Option<Hit> {
        let mut best: Option<(Hit, u32)> = None;
        for e in self.entries.get(name)? {
            if !accepts(e.flags) {
                continue;
            }
            let named = (e.hwcap >> 32) & !HWCAP_ISA_LEVEL_MASK == HWCAP_EXTENSION >> 32;
            if named {
                let Some(sub) = self.hwcaps.get((e.hwcap & 0xffff_ffff) as usize) else {
                    continue;
                };
                let Some(p) = priority(sub) else { continue };
                if best.as_ref().is_some_and(|(_, bp)| p >= *bp) {
                    continue;
                }
                let hit = Hit {
                    path: e.path.clone(),
                    hwcaps: Some(sub.clone()),
                };
                best = Some((hit, p));
                continue;
            }
            if best.is_some() {
                break;
            }
            // Legacy hwcap bits (pre-2.33 subdirectories such as "haswell") are not modelled:
            // such entries are skipped rather than guessed at.
            if e.hwcap & !HWCAP_TLS != 0 {
                continue;
            }
            let hit = Hit {
                path: e.path.clone(),
                hwcaps: None,
            };
            if e.flags == exact_flags {
                return Some(hit);
            }
            best = Some((hit, u32::MAX));
        }
        best.map(|(h, _)| h)
    }
}

fn parse_old(bytes: &[u8], nlibs: usize, strings: usize) -> Result<LdCache, CacheError> {
    let mut cache = LdCache {
        format: "ld.so-1.7.0",
        ..Default::default()
    };
    for i in 0..nlibs {
        let at = OLD_HEADER + i * OLD_ENTRY;
        let (Some(flags), Some(key), Some(value)) = (
            u32_at(bytes, at, true),
            u32_at(bytes, at + 4, true),
            u32_at(bytes, at + 8, true),
        ) else {
            return Err(CacheError::Truncated("old entries"));
        };
        let (Some(k), Some(v)) = (
            str_at(bytes, strings, key as usize),
            str_at(bytes, strings, value as usize),
        ) else {
            continue;
        };
        cache.entries.entry(k).or_default().push(Entry {
            flags: flags as i32,
            hwcap: 0,
            path: v,
        });
    }
    Ok(cache)
}

fn parse_new(bytes: &[u8], base: usize) -> Result<LdCache, CacheError> {
    let hdr = bytes.get(base..).ok_or(CacheError::Truncated("header"))?;
    if hdr.len() < NEW_HEADER {
        return Err(CacheError::Truncated("header"));
    }
    // flags byte: 2 = little endian, 3 = big endian, 0 = written before the flag existed.
    let le = hdr[28] != 3;
    let nlibs = u32_at(hdr, 20, le).unwrap_or(0) as usize;
    if nlibs > MAX_ENTRIES || NEW_HEADER + nlibs * NEW_ENTRY > hdr.len() {
        return Err(CacheError::Truncated("entries"));
    }
    let mut cache = LdCache {
        format: "glibc-ld.so.cache1.1",
        hwcaps: hwcaps_names(hdr, le),
        ..Default::default()
    };
    for i in 0..nlibs {
        let at = NEW_HEADER + i * NEW_ENTRY;
        let flags = u32_at(hdr, at, le).unwrap_or(0) as i32;
        let key = u32_at(hdr, at + 4, le).unwrap_or(u32::MAX) as usize;
        let value = u32_at(hdr, at + 8, le).unwrap_or(u32::MAX) as usize;
        let hwcap = u64_at(hdr, at + 16, le).unwrap_or(0);
        let (Some(k), Some(v)) = (str_at(hdr, 0, key), str_at(hdr, 0, value)) else {
            continue;
        };
        cache.entries.entry(k).or_default().push(Entry {
            flags,
            hwcap,
            path: v,
        });
    }
    Ok(cache)
}

/// The glibc-hwcaps subdirectory names from the extension directory; none when absent.
fn hwcaps_names(hdr: &[u8], le: bool) -> Vec<String> {
    let Some(ext) = u32_at(hdr, 32, le).map(|v| v as usize).filter(|&v| v != 0) else {
        return Vec::new();
    };
    if u32_at(hdr, ext, le) != Some(EXTENSION_MAGIC) {
        return Vec::new();
    }
    let count = u32_at(hdr, ext + 4, le).unwrap_or(0).min(64) as usize;
    for i in 0..count {
        let s = ext + 8 + i * 16;
        if u32_at(hdr, s, le) != Some(EXTENSION_TAG_GLIBC_HWCAPS) {
            continue;
        }
        let off = u32_at(hdr, s + 8, le).unwrap_or(0) as usize;
        let size = u32_at(hdr, s + 12, le).unwrap_or(0) as usize;
        return (0..(size / 4).min(1024))
            .filter_map(|j| u32_at(hdr, off + 4 * j, le))
            .map(|so| str_at(hdr, 0, so as usize).unwrap_or_default())
            .collect();
    }
    Vec::new()
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(w)
    } else {
        u32::from_be_bytes(w)
    })
}

fn u64_at(b: &[u8], at: usize, le: bool) -> Option<u64> {
    let w: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(w)
    } else {
        u64::from_be_bytes(w)
    })
}

/// A NUL-terminated string at `base + off`, at most 4 KiB long.
fn str_at(b: &[u8], base: usize, off: usize) -> Option<String> {
    let start = base.checked_add(off)?;
    let rest = b.get(start..)?;
    let rest = &rest[..rest.len().min(4096)];
    let end = rest.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_cache(entries: &[(i32, u64, &str, &str)], hwcaps: &[&str]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = NEW_HEADER + entries.len() * NEW_ENTRY;
        let mut add = |s: &str| {
            let off = strings_at + strings.len();
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            off as u32
        };
        let mut body = Vec::new();
        for (flags, hwcap, key, value) in entries {
            body.extend_from_slice(&flags.to_le_bytes());
            body.extend_from_slice(&add(key).to_le_bytes());
            body.extend_from_slice(&add(value).to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&hwcap.to_le_bytes());
        }
        let hw_offs: Vec<u32> = hwcaps.iter().map(|h| add(h)).collect();
        let mut out = MAGIC_NEW.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        let ext_at = (strings_at + strings.len() + 3) & !3;
        out.extend_from_slice(&(ext_at as u32).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&body);
        out.extend_from_slice(&strings);
        out.resize(ext_at, 0);
        out.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        let array_at = ext_at + 8 + 16;
        out.extend_from_slice(&EXTENSION_TAG_GLIBC_HWCAPS.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(array_at as u32).to_le_bytes());
        out.extend_from_slice(&((hw_offs.len() * 4) as u32).to_le_bytes());
        for o in hw_offs {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out
    }

    #[test]
    fn hwcaps_entries_win_by_priority_and_fall_back_to_plain() {
        let bytes = new_cache(
            &[
                (
                    0x303,
                    HWCAP_EXTENSION,
                    "libz.so.1",
                    "/l/glibc-hwcaps/x86-64-v2/libz.so.1",
                ),
                (
                    0x303,
                    HWCAP_EXTENSION | 1,
                    "libz.so.1",
                    "/l/glibc-hwcaps/x86-64-v3/libz.so.1",
                ),
                (0x303, 0, "libz.so.1", "/l/libz.so.1"),
            ],
            &["x86-64-v2", "x86-64-v3"],
        );
        let cache = LdCache::parse(&bytes).unwrap();
        let prio = |level: u32| {
            move |s: &str| {
                let v: u32 = s.strip_prefix("x86-64-v")?.parse().ok()?;
                (v <= level).then_some(10 - v)
            }
        };
        let ok = |f: i32| f == 0x303;
        let hit = cache.lookup("libz.so.1", 0x303, ok, prio(4)).unwrap();
        assert_eq!(hit.hwcaps.as_deref(), Some("x86-64-v3"));
        let hit = cache.lookup("libz.so.1", 0x303, ok, prio(2)).unwrap();
        assert_eq!(hit.path, "/l/glibc-hwcaps/x86-64-v2/libz.so.1");
        let hit = cache.lookup("libz.so.1", 0x303, ok, prio(1)).unwrap();
        assert_eq!(hit.path, "/l/libz.so.1");
        assert!(cache
            .lookup("libz.so.1", 0x303, |f| f == 3, prio(4))
            .is_none());
    }

    #[test]
    fn old_format_is_read_and_garbage_is_refused() {
        let mut b = MAGIC_OLD.to_vec();
        b.push(0);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(b"libm.so\0/lib/libm.so\0");
        let cache = LdCache::parse(&b).unwrap();
        let hit = cache.lookup("libm.so", 3, |_| true, |_| None).unwrap();
        assert_eq!(hit.path, "/lib/libm.so");
        assert!(LdCache::parse(b"garbage").is_err());
        assert!(LdCache::parse(&b[..20]).is_err());
    }
}
