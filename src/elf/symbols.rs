//! The undefined dynamic symbols of an object: what it imports, which hints at what libc will
//! `dlopen` on its behalf (NSS modules, libgcc_s, gconv).

use goblin::container::{Container, Ctx};
use goblin::elf::section_header::{self, SectionHeader};
use goblin::elf::sym::Sym;

use super::object::{self, ObjectError, ReadAt};

/// Bigger symbol or string tables than this are not read (the largest real libraries are a few
/// MB); the object is then reported as having no usable imports.
const MAX_TABLE_BYTES: u64 = 64 << 20;
const MAX_SECTIONS: usize = 1 << 16;

/// Names of undefined (imported) dynamic symbols.
pub fn imported(src: &(impl ReadAt + ?Sized)) -> Result<Vec<String>, ObjectError> {
    let (hdr, _) = object::parse_header(src)?;
    let big = hdr.e_ident[goblin::elf::header::EI_CLASS] == goblin::elf::header::ELFCLASS64;
    let container = if big {
        Container::Big
    } else {
        Container::Little
    };
    let ctx = Ctx::new(container, hdr.endianness()?);
    let (sym_off, sym_len, str_off, str_len) = match from_sections(src, &hdr, ctx)? {
        Some(t) => t,
        None => match from_dynamic(src, ctx)? {
            Some(t) => t,
            None => return Ok(Vec::new()),
        },
    };
    if sym_len > MAX_TABLE_BYTES || str_len > MAX_TABLE_BYTES {
        return Err(ObjectError::Malformed("symbol table too large".into()));
    }
    let syms = object::read_range(src, sym_off, sym_len)?;
    let strs = object::read_range(src, str_off, str_len)?;
    let count = syms.len() / Sym::size(container);
    let table = Sym::parse(&syms, 0, count, ctx)?;
    Ok(table
        .iter()
        .filter(|s| s.st_shndx == section_header::SHN_UNDEF as usize && s.st_name != 0)
        .filter_map(|s| strs.get(s.st_name..).map(object::cstr))
        .filter(|n| !n.is_empty())
        .collect())
}

type Tables = Option<(u64, u64, u64, u64)>;

/// `.dynsym` and its linked string table, located by section headers.
fn from_sections(
    src: &(impl ReadAt + ?Sized),
    hdr: &goblin::elf::header::Header,
    ctx: Ctx,
) -> Result<Tables, ObjectError> {
    let entsize = SectionHeader::size(ctx);
    if hdr.e_shoff == 0 || usize::from(hdr.e_shentsize) != entsize {
        return Ok(None);
    }
    let count = usize::from(hdr.e_shnum).min(MAX_SECTIONS);
    if count == 0 {
        return Ok(None);
    }
    let bytes = object::read_range(src, hdr.e_shoff, (count * entsize) as u64)?;
    let sections = match SectionHeader::parse_from(&bytes, 0, bytes.len() / entsize, ctx) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let Some(dynsym) = sections
        .iter()
        .find(|s| s.sh_type == section_header::SHT_DYNSYM)
    else {
        return Ok(None);
    };
    let Some(strtab) = sections.get(dynsym.sh_link as usize) else {
        return Ok(None);
    };
    Ok(Some((
        dynsym.sh_offset,
        dynsym.sh_size,
        strtab.sh_offset,
        strtab.sh_size,
    )))
}

/// For stripped-of-sections objects: DT_SYMTAB sized by DT_HASH's chain count.
fn from_dynamic(src: &(impl ReadAt + ?Sized), ctx: Ctx) -> Result<Tables, ObjectError> {
    let obj = object::parse(src)?;
    let (Some(sym_off), Some(hash), Some((str_off, str_len))) = (obj.dynsym, obj.hash, obj.dynstr)
    else {
        return Ok(None);
    };
    let words = object::read_range(src, hash, 8)?;
    if words.len() < 8 {
        return Ok(None);
    }
    let nchain = [words[4], words[5], words[6], words[7]];
    let nchain = if ctx.le.is_little() {
        u32::from_le_bytes(nchain)
    } else {
        u32::from_be_bytes(nchain)
    };
    let sym_len = u64::from(nchain) * Sym::size(ctx.container) as u64;
    Ok(Some((sym_off, sym_len, str_off, str_len)))
}
