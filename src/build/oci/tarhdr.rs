//! Tar headers written field by field. The `tar` crate's path setters normalise names (they drop
//! the trailing `/` of directories) and its metadata modes rewrite owners and permissions; an
//! image must keep both exactly, so names go into the header bytes as given, with GNU long-name
//! records (`L`, `K`) for names that do not fit, as GNU tar and Go's archive/tar read them.

use std::io::{self, Read, Write};

use tar::{Builder, EntryType, Header};

/// Name fields hold 100 bytes; a name of exactly 100 has no terminating NUL, which some readers
/// mishandle, so such names take the long-name record too.
const NAME_FIELD: usize = 100;

/// Ownership, mode and time of one archive member.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
}

/// Appends one member: `name` and `link` are raw bytes, relative, already validated.
pub(crate) fn append<W: Write, R: Read>(
    ar: &mut Builder<W>,
    kind: EntryType,
    name: &[u8],
    link: Option<&[u8]>,
    meta: Meta,
    size: u64,
    data: R,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(meta.mode & 0o7777);
    header.set_uid(u64::from(meta.uid));
    header.set_gid(u64::from(meta.gid));
    header.set_mtime(meta.mtime);
    header.set_size(size);
    put_name(
        ar,
        &mut header.as_old_mut().name,
        EntryType::GNULongName,
        name,
    )?;
    if let Some(link) = link {
        put_name(
            ar,
            &mut header.as_old_mut().linkname,
            EntryType::GNULongLink,
            link,
        )?;
    }
    header.set_cksum();
    ar.append(&header, data)
}

/// Fills a name field, first emitting a long-name record when the name does not fit. The field
/// then holds the name's first bytes, as GNU tar writes it; readers use the record.
fn put_name<W: Write>(
    ar: &mut Builder<W>,
    field: &mut [u8; NAME_FIELD],
    record: EntryType,
    name: &[u8],
) -> io::Result<()> {
    if name.len() >= NAME_FIELD {
        let mut long = Header::new_gnu();
        long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        long.set_entry_type(record);
        long.set_mode(0o644);
        long.set_uid(0);
        long.set_gid(0);
        long.set_mtime(0);
        // The record's data is the name and its terminating NUL, as GNU tar writes it.
        long.set_size(name.len() as u64 + 1);
        long.set_cksum();
        ar.append(&long, name.chain(&[0u8][..]))?;
    }
    let n = name.len().min(NAME_FIELD);
    field[..n].copy_from_slice(&name[..n]);
    Ok(())
}
