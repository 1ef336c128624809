//! Reading the few parts of an ELF object that the loader looks at, with bounded reads.
//!
//! ld.so only needs the ELF header, the program headers, `PT_INTERP`, the dynamic array and a few
//! strings, so this reads exactly those ranges instead of the whole file: a 200 MB library costs
//! a handful of small reads, and a hostile header can never make us allocate more than the caps
//! below. goblin does the decoding of each piece.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use goblin::container::{Container, Ctx};
use goblin::elf::dynamic::{self, Dynamic};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use goblin::elf::Elf;

/// Longest string we accept from a dynamic string table; glibc's own limit is PATH_MAX.
pub const MAX_STRING: usize = 4096;
/// More DT_NEEDED entries than any real object has; a hostile file gets the first ones only.
pub const MAX_NEEDED: usize = 4096;
/// Program headers beyond this are not something a linker produces.
const MAX_PHDRS: usize = 4096;
/// A dynamic array larger than this (64 Ki entries of 16 bytes) is treated as truncated.
const MAX_DYNAMIC_BYTES: u64 = 1 << 20;
/// What the first read takes: the ELF header and, for every normal file, the program headers.
const HEAD_READ: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("not an ELF file")]
    NotElf,
    #[error("file too short ({0})")]
    Truncated(&'static str),
    #[error("malformed ELF: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<goblin::error::Error> for ObjectError {
    fn from(e: goblin::error::Error) -> Self {
        ObjectError::Malformed(e.to_string())
    }
}

/// Positional reads over a file or an in-memory buffer, so the same parser serves the resolver
/// and the fuzzer.
pub trait ReadAt {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn size(&self) -> u64;
}

/// A file together with its size, taken once from `fstat`.
pub struct SizedFile {
    pub file: File,
    pub size: u64,
}

impl ReadAt for SizedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// Reads through aligned blocks kept for the parse of one object: the header, program headers,
/// interpreter and dynamic strings of a normal object sit in one or two blocks, so each is one
/// positioned read instead of one per piece (a string table lookup was a `pread` per name).
struct Blocks<'a, R: ReadAt + ?Sized> {
    src: &'a R,
    /// (block index, bytes), the most recently read last; at most `BLOCKS_KEPT`.
    kept: std::cell::RefCell<Vec<(u64, Vec<u8>)>>,
}

const BLOCK: u64 = 16 << 10;
const BLOCKS_KEPT: usize = 8;

impl<'a, R: ReadAt + ?Sized> Blocks<'a, R> {
    fn new(src: &'a R) -> Self {
        Blocks {
            src,
            kept: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl<R: ReadAt + ?Sized> ReadAt for Blocks<'_, R> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let index = offset / BLOCK;
        let within = (offset % BLOCK) as usize;
        let mut kept = self.kept.borrow_mut();
        let at = match kept.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                let block = read_range(self.src, index * BLOCK, BLOCK)?;
                if kept.len() == BLOCKS_KEPT {
                    kept.remove(0);
                }
                kept.push((index, block));
                kept.len() - 1
            }
        };
        let block = &kept[at].1;
        let n = buf.len().min(block.len().saturating_sub(within));
        buf[..n].copy_from_slice(&block[within..within + n]);
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.src.size()
    }
}

/// Reads up to `len` bytes at `offset`, fewer when the file ends first.
pub fn read_range(src: &(impl ReadAt + ?Sized), offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let avail = src.size().saturating_sub(offset);
    let len = usize::try_from(len.min(avail)).unwrap_or(0);
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = src.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// The identity fields ld.so's `open_verify` compares against its own build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Abi {
    pub class: u8,
    pub data: u8,
    pub machine: u16,
}

impl Abi {
    pub fn is_64(&self) -> bool {
        self.class == header::ELFCLASS64
    }
}

/// What the loader needs to know about one object.
#[derive(Debug, Clone, Default)]
pub struct ElfObject {
    pub abi: Option<Abi>,
    pub osabi: u8,
    pub e_type: u16,
    pub interp: Option<String>,
    pub has_dynamic: bool,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    /// Already ignored (None) when the object also has DT_RUNPATH, as glibc's
    /// `elf_get_dynamic_info` does.
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub nodeflib: bool,
    /// File offset and size of the dynamic string table, for later symbol/version lookups.
    pub dynstr: Option<(u64, u64)>,
    /// DT_SYMTAB and DT_HASH as file offsets, for objects without section headers.
    pub dynsym: Option<u64>,
    pub hash: Option<u64>,
    pub warnings: Vec<String>,
}

/// Parses the header only: enough to tell ELF from not, and class/machine for skipping.
pub fn parse_header(src: &(impl ReadAt + ?Sized)) -> Result<(Header, Vec<u8>), ObjectError> {
    let head = read_range(src, 0, HEAD_READ as u64)?;
    if head.len() < 4 || &head[..4] != header::ELFMAG {
        return Err(ObjectError::NotElf);
    }
    if head.len() < header::header32::SIZEOF_EHDR {
        return Err(ObjectError::Truncated("ELF header"));
    }
    let class = head[header::EI_CLASS];
    if class != header::ELFCLASS32 && class != header::ELFCLASS64 {
        return Err(ObjectError::Malformed(format!("invalid ELF class {class}")));
    }
    if class == header::ELFCLASS64 && head.len() < header::header64::SIZEOF_EHDR {
        return Err(ObjectError::Truncated("ELF header"));
    }
    let hdr = Elf::parse_header(&head)?;
    Ok((hdr, head))
}

/// Parses what ld.so reads from an object. Problems inside the dynamic section become warnings
/// on the object; only an unreadable header is an error.
pub fn parse(src: &(impl ReadAt + ?Sized)) -> Result<ElfObject, ObjectError> {
    let src = &Blocks::new(src);
    let (hdr, head) = parse_header(src)?;
    let ctx = Ctx::new(
        if hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
            Container::Big
        } else {
            Container::Little
        },
        hdr.endianness()?,
    );
    let mut obj = ElfObject {
        abi: Some(Abi {
            class: hdr.e_ident[header::EI_CLASS],
            data: hdr.e_ident[header::EI_DATA],
            machine: hdr.e_machine,
        }),
        osabi: hdr.e_ident[header::EI_OSABI],
        e_type: hdr.e_type,
        ..Default::default()
    };
    let phdrs = read_phdrs(src, &hdr, &head, ctx)?;
    for ph in &phdrs {
        if ph.p_type == program_header::PT_INTERP && obj.interp.is_none() {
            let bytes = read_range(src, ph.p_offset, ph.p_filesz.min(MAX_STRING as u64))?;
            obj.interp = Some(cstr(&bytes));
        }
    }
    read_dynamic(src, &phdrs, ctx, &mut obj)?;
    Ok(obj)
}

fn read_phdrs(
    src: &(impl ReadAt + ?Sized),
    hdr: &Header,
    head: &[u8],
    ctx: Ctx,
) -> Result<Vec<ProgramHeader>, ObjectError> {
    let count = usize::from(hdr.e_phnum);
    if count == 0 {
        return Ok(Vec::new());
    }
    if usize::from(hdr.e_phentsize) != ProgramHeader::size(ctx) {
        return Err(ObjectError::Malformed(
            "ELF file's phentsize not the expected size".into(),
        ));
    }
    if count > MAX_PHDRS {
        return Err(ObjectError::Malformed(format!("{count} program headers")));
    }
    let len = (count * ProgramHeader::size(ctx)) as u64;
    let fits_in_head = hdr
        .e_phoff
        .checked_add(len)
        .is_some_and(|end| end <= head.len() as u64);
    let bytes = if fits_in_head {
        head[hdr.e_phoff as usize..(hdr.e_phoff + len) as usize].to_vec()
    } else {
        read_range(src, hdr.e_phoff, len)?
    };
    if (bytes.len() as u64) < len {
        return Err(ObjectError::Truncated("program headers"));
    }
    Ok(ProgramHeader::parse(&bytes, 0, count, ctx)?)
}

fn read_dynamic(
    src: &(impl ReadAt + ?Sized),
    phdrs: &[ProgramHeader],
    ctx: Ctx,
    obj: &mut ElfObject,
) -> Result<(), ObjectError> {
    let Some(dyn_ph) = phdrs
        .iter()
        .find(|p| p.p_type == program_header::PT_DYNAMIC)
    else {
        return Ok(());
    };
    obj.has_dynamic = true;
    let mut bytes = read_range(src, dyn_ph.p_offset, dyn_ph.p_filesz.min(MAX_DYNAMIC_BYTES))?;
    if dyn_ph.p_filesz > MAX_DYNAMIC_BYTES {
        obj.warnings.push(format!(
            "dynamic section of {} bytes; only the first {MAX_DYNAMIC_BYTES} read",
            dyn_ph.p_filesz
        ));
    } else if (bytes.len() as u64) < dyn_ph.p_filesz {
        obj.warnings.push("dynamic section truncated".into());
    }
    let entry = if ctx.container.is_big() { 16 } else { 8 };
    bytes.truncate(bytes.len() - bytes.len() % entry);
    // goblin reads PT_DYNAMIC at its file offset; we hand it only that range, so point the
    // header at offset 0 of our buffer and keep the PT_LOADs for address translation.
    let local: Vec<ProgramHeader> = phdrs
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if p.p_type == program_header::PT_DYNAMIC {
                p.p_offset = 0;
                p.p_filesz = bytes.len() as u64;
            }
            p
        })
        .collect();
    let Some(dynamic) = Dynamic::parse(&bytes, &local, ctx)? else {
        return Ok(());
    };
    collect_dynamic(src, &dynamic, obj)
}

/// Entries whose string we need, by tag, in the order they appear.
fn collect_dynamic(
    src: &(impl ReadAt + ?Sized),
    dynamic: &Dynamic,
    obj: &mut ElfObject,
) -> Result<(), ObjectError> {
    let info = &dynamic.info;
    let has_strtab = dynamic.dyns.iter().any(|d| d.d_tag == dynamic::DT_STRTAB);
    if has_strtab && info.strtab == 0 {
        obj.warnings.push("DT_STRTAB outside every PT_LOAD".into());
    }
    let strtab = (info.strtab != 0).then_some(info.strtab as u64);
    obj.dynstr = strtab.map(|s| (s, info.strsz as u64));
    obj.dynsym = (info.symtab != 0).then_some(info.symtab as u64);
    obj.hash = info.hash;
    obj.nodeflib = info.flags_1 & dynamic::DF_1_NODEFLIB != 0;
    let mut strings = Strings::new(src, strtab, info.strsz as u64);
    for d in &dynamic.dyns {
        match d.d_tag {
            dynamic::DT_NEEDED if obj.needed.len() < MAX_NEEDED => {
                if let Some(s) = strings.get(d.d_val)? {
                    obj.needed.push(s);
                }
            }
            dynamic::DT_NEEDED if obj.needed.len() == MAX_NEEDED => {
                obj.warnings.push(format!(
                    "more than {MAX_NEEDED} DT_NEEDED entries; rest ignored"
                ));
                obj.needed.push(String::new());
            }
            dynamic::DT_SONAME if obj.soname.is_none() => obj.soname = strings.get(d.d_val)?,
            dynamic::DT_RPATH if obj.rpath.is_none() => obj.rpath = strings.get(d.d_val)?,
            dynamic::DT_RUNPATH if obj.runpath.is_none() => obj.runpath = strings.get(d.d_val)?,
            _ => {}
        }
    }
    // The empty marker only kept the cap warning from repeating.
    obj.needed.retain(|n| !n.is_empty());
    if obj.runpath.is_some() {
        obj.rpath = None;
    }
    obj.warnings.append(&mut strings.warnings);
    Ok(())
}

/// Lazily read strings of the dynamic string table, each bounded by `MAX_STRING`.
struct Strings<'a, R: ReadAt + ?Sized> {
    src: &'a R,
    base: Option<u64>,
    size: u64,
    warnings: Vec<String>,
}

impl<'a, R: ReadAt + ?Sized> Strings<'a, R> {
    fn new(src: &'a R, base: Option<u64>, size: u64) -> Self {
        Strings {
            src,
            base,
            size,
            warnings: Vec::new(),
        }
    }

    /// One line per kind of problem: a hostile table repeats the same one thousands of times.
    fn warn(&mut self, msg: &str) {
        if !self.warnings.iter().any(|w| w == msg) {
            self.warnings.push(msg.to_string());
        }
    }

    fn get(&mut self, offset: u64) -> io::Result<Option<String>> {
        let Some(base) = self.base else {
            self.warn("dynamic string without DT_STRTAB");
            return Ok(None);
        };
        if self.size != 0 && offset >= self.size {
            self.warn("string offsets beyond DT_STRSZ");
            return Ok(None);
        }
        let Some(at) = base.checked_add(offset) else {
            return Ok(None);
        };
        let bytes = read_range(self.src, at, MAX_STRING as u64)?;
        if !bytes.contains(&0) {
            self.warn("unterminated or overlong strings");
            return Ok(None);
        }
        Ok(Some(cstr(&bytes)))
    }
}

/// The bytes up to the first NUL, as text (lossy: names are bytes to the loader).
pub fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
