//! Partition tables: GPT (with its protective MBR) and MBR, including the extended partitions'
//! chain of logical ones. A disk without a table is one file system from byte 0.

use std::io::{self, Read, Seek, SeekFrom};

const SECTOR: u64 = 512;
/// MBR type of an extended partition (CHS, LBA, Linux): the logical partitions live inside.
const EXTENDED: [u8; 3] = [0x05, 0x0f, 0x85];
const GPT_PROTECTIVE: u8 = 0xee;
/// At most this many logical partitions are followed: a looping chain must end.
const MAX_LOGICAL: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based, as Linux numbers them (`sda1`; logical MBR partitions from 5).
    pub number: u32,
    pub offset: u64,
    pub size: u64,
    /// `gpt <type guid>` or `mbr 0x83`, for messages.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    Gpt(Vec<Partition>),
    Mbr(Vec<Partition>),
    /// No partition table: the whole disk is one file system (or nothing known).
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

pub fn read<R: Read + Seek>(r: &mut R, disk_size: u64) -> Result<Table, TableError> {
    if disk_size < SECTOR {
        return Err(TableError::Corrupt(format!(
            "{disk_size} bytes: smaller than one sector"
        )));
    }
    let mbr = read_at(r, 0, 512)?;
    if mbr[510..512] != [0x55, 0xaa] {
        return Ok(Table::None);
    }
    let entries: Vec<&[u8]> = (0..4).map(|i| &mbr[446 + i * 16..462 + i * 16]).collect();
    // A FAT or NTFS boot sector also ends in 55 AA: its "entries" are code, their status bytes
    // not 0x00/0x80.
    if entries.iter().any(|e| e[0] != 0 && e[0] != 0x80) {
        return Ok(Table::None);
    }
    if entries.iter().any(|e| e[4] == GPT_PROTECTIVE) {
        return gpt(r, disk_size).map(Table::Gpt);
    }
    let mut parts = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let (kind, start, count) = (e[4], le32(e, 8) as u64, le32(e, 12) as u64);
        if kind == 0 || count == 0 {
            continue;
        }
        if EXTENDED.contains(&kind) {
            logical(r, disk_size, start, &mut parts)?;
            continue;
        }
        parts.push(checked(
            i as u32 + 1,
            start,
            count,
            format!("mbr 0x{kind:02x}"),
            disk_size,
        )?);
    }
    Ok(Table::Mbr(parts))
}

fn checked(
    number: u32,
    start: u64,
    count: u64,
    kind: String,
    disk_size: u64,
) -> Result<Partition, TableError> {
    let offset = start * SECTOR;
    let size = count * SECTOR;
    if offset + size > disk_size {
        return Err(TableError::Corrupt(format!(
            "partition {number} ends at byte {} past the disk's end ({disk_size}): truncated image?",
            offset + size
        )));
    }
    Ok(Partition {
        number,
        offset,
        size,
        kind,
    })
}

/// Logical partitions: a chain of EBRs, each giving one partition (relative to itself) and the
/// next EBR (relative to the extended partition's start).
fn logical<R: Read + Seek>(
    r: &mut R,
    disk_size: u64,
    ext_start: u64,
    parts: &mut Vec<Partition>,
) -> Result<(), TableError> {
    let mut ebr = ext_start;
    for n in 0..MAX_LOGICAL {
        let b = read_at(r, ebr * SECTOR, 512)?;
        if b[510..512] != [0x55, 0xaa] {
            return Err(TableError::Corrupt(format!(
                "extended partition: no boot record at sector {ebr}"
            )));
        }
        let (e1, e2) = (&b[446..462], &b[462..478]);
        if e1[4] != 0 && le32(e1, 12) != 0 {
            parts.push(checked(
                5 + n as u32,
                ebr + le32(e1, 8) as u64,
                le32(e1, 12) as u64,
                format!("mbr 0x{:02x}", e1[4]),
                disk_size,
            )?);
        }
        if e2[4] == 0 || le32(e2, 8) == 0 {
            return Ok(());
        }
        ebr = ext_start + le32(e2, 8) as u64;
    }
    Err(TableError::Corrupt(
        "extended partition chain does not end".into(),
    ))
}

fn gpt<R: Read + Seek>(r: &mut R, disk_size: u64) -> Result<Vec<Partition>, TableError> {
    let h = read_at(r, SECTOR, 92)
        .map_err(|_| TableError::Corrupt("GPT header missing: truncated image?".into()))?;
    if &h[0..8] != b"EFI PART" {
        return Err(TableError::Corrupt(
            "protective MBR but no GPT header at sector 1".into(),
        ));
    }
    let header_size = le32(&h, 12) as usize;
    let mut crc_copy = read_at(r, SECTOR, header_size.clamp(92, 512))?;
    let want = le32(&crc_copy, 16);
    crc_copy[16..20].fill(0);
    if crc32(&crc_copy) != want {
        return Err(TableError::Corrupt("GPT header checksum wrong".into()));
    }
    let (array, count, size) = (le64(&h, 72), le32(&h, 80) as u64, le32(&h, 84) as u64);
    if !(128..=4096).contains(&size) || count > 1024 {
        return Err(TableError::Corrupt(format!(
            "GPT: {count} entries of {size} bytes"
        )));
    }
    let table = read_at(r, array * SECTOR, (count * size) as usize).map_err(|_| {
        TableError::Corrupt("GPT partition array past the end: truncated image?".into())
    })?;
    if crc32(&table) != le32(&h, 88) {
        return Err(TableError::Corrupt(
            "GPT partition array checksum wrong".into(),
        ));
    }
    let mut parts = Vec::new();
    for i in 0..count as usize {
        let e = &table[i * size as usize..(i + 1) * size as usize];
        if e[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let (first, last) = (le64(e, 32), le64(e, 40));
        if last < first {
            return Err(TableError::Corrupt(format!(
                "GPT entry {} ends before it starts",
                i + 1
            )));
        }
        parts.push(checked(
            i as u32 + 1,
            first,
            last - first + 1,
            format!("gpt {}", guid(&e[0..16])),
            disk_size,
        )?);
    }
    Ok(parts)
}

/// A GUID as GPT stores it (first three fields little-endian), in its usual text form.
fn guid(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{}-{}",
        le32(b, 0),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

/// CRC-32 (IEEE), as GPT checksums its header and array.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn mbr_primary_and_no_table() {
        let mut d = vec![0u8; 4 << 20];
        d[446 + 4] = 0x83;
        d[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        d[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        d[510] = 0x55;
        d[511] = 0xaa;
        let t = read(&mut Cursor::new(&d), d.len() as u64).unwrap();
        assert_eq!(
            t,
            Table::Mbr(vec![Partition {
                number: 1,
                offset: 2048 * 512,
                size: 4096 * 512,
                kind: "mbr 0x83".into()
            }])
        );
        // Past the end: a truncated image is named, not read.
        d[446 + 12..446 + 16].copy_from_slice(&40960u32.to_le_bytes());
        assert!(matches!(
            read(&mut Cursor::new(&d), d.len() as u64),
            Err(TableError::Corrupt(_))
        ));
        assert_eq!(
            read(&mut Cursor::new(vec![0u8; 4096]), 4096).unwrap(),
            Table::None
        );
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
