//! Partitioned disk images (MBR for BIOS, GPT for EFI and BIOS) written into a plain file: no
//! loop device, no partitioning tool, no root. Partitions start on MiB boundaries; every
//! identifier (disk signature, GUIDs) is derived from the content, so the same inputs give the
//! same bytes. Hand-written because the layouts are fixed and small, and the partitioning crates
//! make random GUIDs; checked with util-linux's sfdisk in the tests.

use super::super::HostImageError;
use sha2::{Digest, Sha256};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

const SECTOR: u64 = 512;
const ALIGN: u64 = 2048; // sectors: 1 MiB
const GPT_ENTRIES: u64 = 128;
const GPT_ENTRY_SIZE: u64 = 128;
/// Sectors the GPT entry array takes (128 × 128 bytes).
const GPT_ARRAY_SECTORS: u64 = GPT_ENTRIES * GPT_ENTRY_SIZE / SECTOR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// FAT: the EFI system partition (GPT) or the active boot partition (MBR).
    Boot,
    /// GRUB's core.img on GPT disks booted by a BIOS ("BIOS boot partition").
    BiosBoot,
    /// The read-only system image.
    System,
}

impl Kind {
    fn mbr_type(self) -> u8 {
        match self {
            Kind::Boot => 0x0e, // FAT16 (LBA)
            Kind::BiosBoot => 0xda,
            Kind::System => 0x83,
        }
    }

    fn gpt_type(self) -> [u8; 16] {
        guid(match self {
            Kind::Boot => "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            Kind::BiosBoot => "21686148-6449-6E6F-744E-656564454649",
            Kind::System => "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        })
    }
}

pub struct Partition {
    pub kind: Kind,
    pub name: &'static str,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Mbr,
    Gpt,
}

pub struct Layout {
    pub table: Table,
    /// GRUB's boot.img: its first 440 bytes become the MBR's code.
    pub boot_code: Option<Vec<u8>>,
    /// core.img in the gap before the first partition (MBR disks), at sector 1.
    pub gap: Option<Vec<u8>>,
    pub partitions: Vec<Partition>,
}

/// Where each partition starts (LBA) and the disk's size in sectors.
fn place(l: &Layout) -> Result<(Vec<u64>, u64), HostImageError> {
    let mut at = ALIGN;
    if let Some(gap) = &l.gap {
        let end = 1 + (gap.len() as u64).div_ceil(SECTOR);
        if end > ALIGN {
            return Err(HostImageError::BadOutput(format!(
                "core.img ({} bytes) does not fit before the first partition",
                gap.len()
            )));
        }
    }
    let mut starts = Vec::new();
    for p in &l.partitions {
        starts.push(at);
        at += (p.data.len() as u64).div_ceil(SECTOR).div_ceil(ALIGN) * ALIGN;
    }
    // Room for the backup GPT (and a round size for MBR disks too).
    Ok((starts, at + ALIGN))
}

/// Writes the disk to `out`; returns its size in bytes.
pub fn write(l: &Layout, out: &Path) -> Result<u64, HostImageError> {
    let (starts, sectors) = place(l)?;
    let seed = seed(l);
    let mut f = std::fs::File::create(out).map_err(|e| HostImageError::io(out.to_path_buf(), e))?;
    let io = |e| HostImageError::io(out.to_path_buf(), e);
    f.set_len(sectors * SECTOR).map_err(io)?;
    let mut at = |lba: u64, bytes: &[u8]| -> std::io::Result<()> {
        f.seek(SeekFrom::Start(lba * SECTOR))?;
        f.write_all(bytes)
    };
    let mut mbr = vec![0u8; 512];
    if let Some(code) = &l.boot_code {
        let n = code.len().min(440);
        mbr[..n].copy_from_slice(&code[..n]);
    }
    mbr[440..444].copy_from_slice(&derive(&seed, "disk signature")[..4]);
    match l.table {
        Table::Mbr => {
            for (i, (p, start)) in l.partitions.iter().zip(&starts).enumerate().take(4) {
                let len = (p.data.len() as u64).div_ceil(SECTOR);
                let e = mbr_entry(p.kind == Kind::Boot, p.kind.mbr_type(), *start, len);
                mbr[446 + 16 * i..462 + 16 * i].copy_from_slice(&e);
            }
        }
        Table::Gpt => {
            let e = mbr_entry(false, 0xee, 1, (sectors - 1).min(u64::from(u32::MAX)));
            mbr[446..462].copy_from_slice(&e);
            let (primary, backup, array) = gpt(l, &starts, sectors, &seed);
            at(1, &primary).map_err(io)?;
            at(2, &array).map_err(io)?;
            at(sectors - 1 - GPT_ARRAY_SECTORS, &array).map_err(io)?;
            at(sectors - 1, &backup).map_err(io)?;
        }
    }
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    at(0, &mbr).map_err(io)?;
    if let Some(gap) = &l.gap {
        at(1, gap).map_err(io)?;
    }
    for (p, start) in l.partitions.iter().zip(&starts) {
        // Zero blocks are left unwritten: the file is sparse where the data is, so its allocated
        // size is what it holds (the bytes read back are the same).
        for (i, block) in p.data.chunks(64 << 10).enumerate() {
            if block.iter().any(|b| *b != 0) {
                f.seek(SeekFrom::Start(start * SECTOR + (i as u64) * (64 << 10)))
                    .and_then(|_| f.write_all(block))
                    .map_err(io)?;
            }
        }
    }
    f.sync_all().map_err(io)?;
    Ok(sectors * SECTOR)
}

/// Where partition `index` starts, in bytes (the BIOS boot code must point into it).
pub fn start_of(l: &Layout, index: usize) -> Result<u64, HostImageError> {
    Ok(place(l)?.0[index])
}

fn mbr_entry(active: bool, kind: u8, start: u64, len: u64) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[0] = if active { 0x80 } else { 0 };
    e[1..4].copy_from_slice(&chs(start));
    e[4] = kind;
    e[5..8].copy_from_slice(&chs(start + len.max(1) - 1));
    e[8..12].copy_from_slice(&(start.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    e[12..16].copy_from_slice(&(len.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    e
}

/// CHS of an LBA in the 255-head, 63-sector geometry; past 1024 cylinders the maximum.
fn chs(lba: u64) -> [u8; 3] {
    let (heads, spt) = (255u64, 63u64);
    let c = lba / (heads * spt);
    if c > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let h = (lba / spt) % heads;
    let s = lba % spt + 1;
    [
        h as u8,
        (s as u8) | (((c >> 2) & 0xc0) as u8),
        (c & 0xff) as u8,
    ]
}

/// The primary header, the backup header and the entry array.
fn gpt(l: &Layout, starts: &[u64], sectors: u64, seed: &[u8; 32]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut array = vec![0u8; (GPT_ENTRIES * GPT_ENTRY_SIZE) as usize];
    for (i, (p, start)) in l.partitions.iter().zip(starts).enumerate() {
        let e = &mut array[i * 128..(i + 1) * 128];
        e[..16].copy_from_slice(&p.kind.gpt_type());
        e[16..32].copy_from_slice(&random_guid(&derive(seed, p.name)));
        let len = (p.data.len() as u64).div_ceil(SECTOR).max(1);
        e[32..40].copy_from_slice(&start.to_le_bytes());
        e[40..48].copy_from_slice(&(start + len - 1).to_le_bytes());
        for (j, unit) in p.name.encode_utf16().take(36).enumerate() {
            e[56 + 2 * j..58 + 2 * j].copy_from_slice(&unit.to_le_bytes());
        }
    }
    let array_crc = crc32fast::hash(&array);
    let disk_guid = random_guid(&derive(seed, "disk guid"));
    let header = |current: u64, other: u64, array_lba: u64| {
        let mut h = vec![0u8; 512];
        h[..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&current.to_le_bytes());
        h[32..40].copy_from_slice(&other.to_le_bytes());
        h[40..48].copy_from_slice(&(2 + GPT_ARRAY_SECTORS).to_le_bytes());
        h[48..56].copy_from_slice(&(sectors - 2 - GPT_ARRAY_SECTORS).to_le_bytes());
        h[56..72].copy_from_slice(&disk_guid);
        h[72..80].copy_from_slice(&array_lba.to_le_bytes());
        h[80..84].copy_from_slice(&(GPT_ENTRIES as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(GPT_ENTRY_SIZE as u32).to_le_bytes());
        h[88..92].copy_from_slice(&array_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    let last = sectors - 1;
    (
        header(1, last, 2),
        header(last, 1, last - GPT_ARRAY_SECTORS),
        array,
    )
}

/// A digest of everything on the disk: the root of every identifier written on it.
fn seed(l: &Layout) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in &l.partitions {
        h.update(p.name.as_bytes());
        h.update(Sha256::digest(&p.data));
    }
    h.finalize().into()
}

fn derive(seed: &[u8; 32], what: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(what.as_bytes());
    h.finalize().into()
}

/// A version 4 GUID (on-disk byte order) from 16 derived bytes.
fn random_guid(b: &[u8; 32]) -> [u8; 16] {
    let mut g = [0u8; 16];
    g.copy_from_slice(&b[..16]);
    g[7] = (g[7] & 0x0f) | 0x40;
    g[8] = (g[8] & 0x3f) | 0x80;
    g
}

/// A GUID's text form in GPT's on-disk byte order (the first three fields little-endian).
fn guid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
    g[4..6].copy_from_slice(&[b[5], b[4]]);
    g[6..8].copy_from_slice(&[b[7], b[6]]);
    g[8..].copy_from_slice(&b[8..]);
    g
}

/// A FAT volume serial derived from `data`.
pub fn volume_id(data: &[&[u8]]) -> u32 {
    let mut h = Sha256::new();
    for d in data {
        h.update(Sha256::digest(d));
    }
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(table: Table) -> Layout {
        Layout {
            table,
            boot_code: None,
            gap: (table == Table::Mbr).then(|| vec![0xcc; 40_000]),
            partitions: vec![
                Partition {
                    kind: Kind::Boot,
                    name: "liftkit-boot",
                    data: vec![1; 3 << 20],
                },
                Partition {
                    kind: Kind::System,
                    name: "liftkit-system",
                    data: vec![2; 5000],
                },
            ],
        }
    }

    /// util-linux's reading of the table.
    fn sfdisk(img: &Path) -> serde_json::Value {
        let out = std::process::Command::new("sfdisk")
            .arg("--json")
            .arg(img)
            .output()
            .expect("sfdisk (fdisk package)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn gpt_and_mbr_disks_read_back_with_sfdisk_and_are_reproducible() {
        let tmp = tempfile::tempdir().unwrap();
        for table in [Table::Gpt, Table::Mbr] {
            let a = tmp.path().join("a.img");
            let b = tmp.path().join("b.img");
            write(&layout(table), &a).unwrap();
            write(&layout(table), &b).unwrap();
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            let t = &sfdisk(&a)["partitiontable"];
            let parts = t["partitions"].as_array().unwrap();
            assert_eq!(parts.len(), 2, "{t}");
            assert_eq!(parts[0]["start"], 2048);
            assert_eq!(parts[0]["size"], 6144);
            assert_eq!(parts[1]["start"], 8192);
            assert_eq!(parts[1]["size"], 10);
            let img = std::fs::read(&a).unwrap();
            assert_eq!(img[8192 * 512], 2, "system data at its start");
            if table == Table::Gpt {
                assert_eq!(t["label"], "gpt");
                assert_eq!(parts[0]["type"], "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
                assert_eq!(parts[1]["name"], "liftkit-system");
                // sfdisk warns about a bad backup or CRC on stderr; a clean read says nothing.
                let out = std::process::Command::new("sfdisk")
                    .arg("--verify")
                    .arg(&a)
                    .output()
                    .unwrap();
                let said = String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success() && !said.contains("corrupt"), "{said}");
            } else {
                assert_eq!(t["label"], "dos");
                assert_eq!(parts[0]["type"], "e");
                assert_eq!(parts[0]["bootable"], true);
                assert_eq!(img[512], 0xcc, "core.img in the gap");
            }
        }
    }
}
