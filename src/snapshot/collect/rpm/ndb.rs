//! rpm's own "ndb" package database (`Packages.db`, SUSE since 15 SP3): a slot table of
//! `(pkgidx, block offset, block count)` then the header blobs, each framed by a head and a tail
//! with an Adler-32 checksum. Layout from rpm's `lib/backend/ndb/rpmpkg.c`; everything
//! little-endian.

use super::RpmDbError;

const MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_HEAD: u32 = u32::from_le_bytes(*b"BlbS");
const BLOB_TAIL: u32 = u32::from_le_bytes(*b"BlbE");
const PAGE: usize = 4096;
const SLOT: usize = 16;
const BLK: usize = 16;
/// The first two slots of page 0 hold the file header.
const HEADER: usize = 32;

fn le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub fn values(file: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let corrupt = |what: String| RpmDbError::Corrupt(what);
    if le(file, 0) != Some(MAGIC) {
        return Err(corrupt("not an rpm ndb database (bad magic)".into()));
    }
    if le(file, 4) != Some(0) {
        return Err(RpmDbError::Unsupported(format!(
            "ndb version {}",
            le(file, 4).unwrap_or(0)
        )));
    }
    let slot_pages = le(file, 12).unwrap_or(0) as usize;
    if slot_pages == 0 || slot_pages * PAGE > file.len() {
        return Err(corrupt(format!(
            "slot table of {slot_pages} pages does not fit the file"
        )));
    }
    let mut slots = Vec::new();
    for at in (HEADER..slot_pages * PAGE).step_by(SLOT) {
        if le(file, at) != Some(SLOT_MAGIC) {
            return Err(corrupt(format!("slot at byte {at}: bad magic")));
        }
        let (pkgidx, blkoff, blkcnt) = (
            le(file, at + 4).unwrap_or(0),
            le(file, at + 8).unwrap_or(0) as usize,
            le(file, at + 12).unwrap_or(0) as usize,
        );
        if blkoff != 0 {
            slots.push((pkgidx, blkoff, blkcnt));
        }
    }
    slots.sort_by_key(|s| s.0);
    slots
        .into_iter()
        .map(|(pkgidx, blkoff, blkcnt)| blob(file, pkgidx, blkoff, blkcnt))
        .collect()
}

fn blob(file: &[u8], pkgidx: u32, blkoff: usize, blkcnt: usize) -> Result<Vec<u8>, RpmDbError> {
    let bad = |what: &str| RpmDbError::Corrupt(format!("package {pkgidx}: {what}"));
    let start = blkoff.checked_mul(BLK).ok_or_else(|| bad("offset"))?;
    let end = blkcnt
        .checked_mul(BLK)
        .and_then(|n| n.checked_add(start))
        .filter(|&e| e <= file.len() && blkcnt * BLK >= 28)
        .ok_or_else(|| bad("blob outside the file (truncated database)"))?;
    let b = &file[start..end];
    if le(b, 0) != Some(BLOB_HEAD) || le(b, 4) != Some(pkgidx) {
        return Err(bad("blob head does not match its slot"));
    }
    let len = le(b, 12).unwrap_or(0) as usize;
    if (16 + len + 12).div_ceil(BLK) != blkcnt {
        return Err(bad("blob length does not match its slot"));
    }
    let tail = b.len() - 12;
    if le(b, tail) != Some(adler32(&b[..tail]))
        || le(b, tail + 4) != Some(len as u32)
        || le(b, tail + 8) != Some(BLOB_TAIL)
    {
        return Err(bad("blob checksum or tail wrong"));
    }
    Ok(b[16..16 + len].to_vec())
}

/// RFC 1950's Adler-32, as rpm checks its blobs.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// Writes an ndb file holding `blobs` (pkgidx 1, 2, …) as rpm lays it out: for tests, since
/// Debian's rpm is built without the ndb backend.
#[doc(hidden)]
pub fn write(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut file = vec![0u8; PAGE];
    for at in (0..PAGE).step_by(SLOT) {
        file[at..at + 4].copy_from_slice(&SLOT_MAGIC.to_le_bytes());
    }
    let mut header = [0u8; HEADER];
    for (i, v) in [MAGIC, 0, 1, 1, blobs.len() as u32 + 1].iter().enumerate() {
        header[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    file[..HEADER].copy_from_slice(&header);
    for (i, data) in blobs.iter().enumerate() {
        let pkgidx = i as u32 + 1;
        let blkoff = file.len() / BLK;
        let blkcnt = (16 + data.len() + 12).div_ceil(BLK);
        let mut b = Vec::new();
        for v in [BLOB_HEAD, pkgidx, 1, data.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(data);
        b.resize(blkcnt * BLK - 12, 0);
        let sum = adler32(&b);
        for v in [sum, data.len() as u32, BLOB_TAIL] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        file.extend(b);
        let slot = HEADER + i * SLOT;
        for (j, v) in [SLOT_MAGIC, pkgidx, blkoff as u32, blkcnt as u32]
            .iter()
            .enumerate()
        {
            file[slot + j * 4..slot + j * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_rpm_layout_holds_and_refuses_damage() {
        let blobs = vec![b"first header".to_vec(), vec![7u8; 5000]];
        let file = write(&blobs);
        assert_eq!(values(&file).unwrap(), blobs);
        let mut flipped = file.clone();
        let last = flipped.len() - 20;
        flipped[last] ^= 1;
        assert!(matches!(values(&flipped), Err(RpmDbError::Corrupt(_))));
        assert!(matches!(
            values(&file[..file.len() - 16]),
            Err(RpmDbError::Corrupt(_))
        ));
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}
