//! Berkeley DB hash files, as rpm ≤ 4.15 keeps `/var/lib/rpm/Packages` (RHEL ≤ 8, CentOS 7):
//! read directly from the bytes, without libdb, so nothing on the disk is locked or touched.
//!
//! Every hash page is visited in page order and its key/data pairs taken; values too large for a
//! page live on chains of overflow pages. Page layout (Berkeley DB 4.x–5.x): a 26-byte header
//! (`lsn, pgno, prev_pgno, next_pgno, entries, hf_offset, level, type`), then `entries` 16-bit
//! offsets of the items, which fill the page from its end.

use super::RpmDbError;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

#[derive(Clone, Copy)]
struct Layout {
    little: bool,
    page_size: usize,
}

impl Layout {
    fn u16(&self, b: &[u8], at: usize) -> Option<u16> {
        let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    }

    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }
}

/// The data of every record, in page order, keyed by nothing: rpm's key is the header number.
pub fn values(file: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let layout = layout(file)?;
    let pages = file.len() / layout.page_size;
    let mut out = Vec::new();
    for pgno in 1..pages {
        let page = &file[pgno * layout.page_size..(pgno + 1) * layout.page_size];
        if !matches!(page[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let items = items(page, layout, pgno)?;
        // Items come in key/data pairs.
        for pair in items.chunks_exact(2) {
            let key = resolve(file, layout, pair[0])?;
            let data = resolve(file, layout, pair[1])?;
            // Key 0 holds rpm's next-instance counter, not a header.
            if key.iter().all(|&b| b == 0) || data.len() < 8 {
                continue;
            }
            out.push(data);
        }
    }
    Ok(out)
}

fn layout(file: &[u8]) -> Result<Layout, RpmDbError> {
    let magic = file
        .get(12..16)
        .ok_or_else(|| RpmDbError::Corrupt("shorter than a Berkeley DB meta page".into()))?;
    let magic: [u8; 4] = magic.try_into().unwrap_or_default();
    let little = if u32::from_le_bytes(magic) == HASH_MAGIC {
        true
    } else if u32::from_be_bytes(magic) == HASH_MAGIC {
        false
    } else {
        return Err(RpmDbError::Corrupt(
            "not a Berkeley DB hash file (bad magic)".into(),
        ));
    };
    let mut l = Layout {
        little,
        page_size: 0,
    };
    l.page_size = l.u32(file, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&l.page_size) || !l.page_size.is_power_of_two() {
        return Err(RpmDbError::Corrupt(format!(
            "Berkeley DB page size {} is not one Berkeley DB writes",
            l.page_size
        )));
    }
    if file[24] != 0 {
        return Err(RpmDbError::Unsupported(
            "Berkeley DB file is encrypted".into(),
        ));
    }
    Ok(l)
}

#[derive(Clone, Copy)]
enum Item<'a> {
    Inline(&'a [u8]),
    Overflow { pgno: u32, len: u32 },
}

fn items(page: &[u8], l: Layout, pgno: usize) -> Result<Vec<Item<'_>>, RpmDbError> {
    let bad = |what: &str| RpmDbError::Corrupt(format!("hash page {pgno}: {what}"));
    let entries = l.u16(page, 20).ok_or_else(|| bad("header"))? as usize;
    if PAGE_HEADER + entries * 2 > page.len() {
        return Err(bad("more entries than the page holds"));
    }
    let offsets: Vec<usize> = (0..entries)
        .map(|i| l.u16(page, PAGE_HEADER + i * 2).unwrap_or(0) as usize)
        .collect();
    let mut out = Vec::with_capacity(entries);
    for (i, &start) in offsets.iter().enumerate() {
        // Items are packed from the end of the page: each ends where the previous one starts.
        let end = if i == 0 { page.len() } else { offsets[i - 1] };
        if start < PAGE_HEADER + entries * 2 || start >= end || end > page.len() {
            return Err(bad("item outside the page"));
        }
        let item = &page[start..end];
        out.push(match item[0] {
            H_KEYDATA => Item::Inline(&item[1..]),
            H_OFFPAGE => Item::Overflow {
                pgno: l.u32(item, 4).ok_or_else(|| bad("short off-page item"))?,
                len: l.u32(item, 8).ok_or_else(|| bad("short off-page item"))?,
            },
            other => {
                return Err(RpmDbError::Unsupported(format!(
                    "hash page {pgno}: item type {other} (duplicates) is not rpm's layout"
                )))
            }
        });
    }
    Ok(out)
}

fn resolve(file: &[u8], l: Layout, item: Item) -> Result<Vec<u8>, RpmDbError> {
    let (mut pgno, len) = match item {
        Item::Inline(b) => return Ok(b.to_vec()),
        Item::Overflow { pgno, len } => (pgno as usize, len as usize),
    };
    let pages = file.len() / l.page_size;
    let mut out = Vec::with_capacity(len.min(file.len()));
    let mut hops = 0;
    while pgno != 0 && out.len() < len {
        hops += 1;
        if pgno >= pages || hops > pages {
            return Err(RpmDbError::Corrupt(format!(
                "overflow chain leaves the file at page {pgno}"
            )));
        }
        let page = &file[pgno * l.page_size..(pgno + 1) * l.page_size];
        if page[25] != P_OVERFLOW {
            return Err(RpmDbError::Corrupt(format!(
                "page {pgno} is not an overflow page"
            )));
        }
        let used = l.u16(page, 22).unwrap_or(0) as usize;
        let data = page
            .get(PAGE_HEADER..PAGE_HEADER + used)
            .ok_or_else(|| RpmDbError::Corrupt(format!("overflow page {pgno} overfull")))?;
        out.extend_from_slice(data);
        pgno = l.u32(page, 16).unwrap_or(0) as usize;
    }
    if out.len() != len {
        return Err(RpmDbError::Corrupt(format!(
            "overflow record of {len} bytes holds {}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_hash_database() {
        assert!(matches!(values(b"short"), Err(RpmDbError::Corrupt(_))));
        assert!(matches!(values(&[0u8; 4096]), Err(RpmDbError::Corrupt(_))));
        let mut meta = vec![0u8; 8192];
        meta[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        meta[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(values(&meta), Err(RpmDbError::Corrupt(_))));
        meta[20..24].copy_from_slice(&4096u32.to_le_bytes());
        meta[24] = 1;
        assert!(matches!(values(&meta), Err(RpmDbError::Unsupported(_))));
    }
}
