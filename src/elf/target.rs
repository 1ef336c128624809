//! Facts that depend on the loader build a program needs (its class and machine) and on the
//! distribution's layout: the default search directories, `$LIB`, the cache entry flags and the
//! interpreter a shared library would be loaded by.

use std::path::Path;

use goblin::elf::header;

use super::object::Abi;
use crate::host::Host;

const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_S390_LIB64: i32 = 0x0400;
const FLAG_POWERPC_LIB64: i32 = 0x0500;
const FLAG_X8664_LIBX32: i32 = 0x0800;
const FLAG_ARM_LIBHF: i32 = 0x0900;
const FLAG_AARCH64_LIB64: i32 = 0x0a00;
const FLAG_RISCV_FLOAT_ABI_DOUBLE: i32 = 0x1000;

#[derive(Debug, Clone)]
pub struct Target {
    pub abi: Abi,
    /// `_DL_CACHE_DEFAULT_ID` of that ld.so build.
    pub cache_flags: i32,
    /// Builds without a machine-specific `_dl_cache_check_flags` also take plain ELF entries.
    pub generic_flags: bool,
    pub default_dirs: Vec<String>,
    pub lib: String,
    pub interpreter: String,
    pub x86_64: bool,
}

impl Target {
    pub fn new(host: &dyn Host, abi: Abi) -> Target {
        let is64 = abi.is_64();
        let (triplet, flags, interp) = match (abi.machine, is64) {
            (header::EM_X86_64, true) => (
                "x86_64-linux-gnu",
                FLAG_X8664_LIB64,
                "/lib64/ld-linux-x86-64.so.2",
            ),
            (header::EM_X86_64, false) => (
                "x86_64-linux-gnux32",
                FLAG_X8664_LIBX32,
                "/libx32/ld-linux-x32.so.2",
            ),
            (header::EM_386, _) => ("i386-linux-gnu", 0, "/lib/ld-linux.so.2"),
            (header::EM_AARCH64, _) => (
                "aarch64-linux-gnu",
                FLAG_AARCH64_LIB64,
                "/lib/ld-linux-aarch64.so.1",
            ),
            (header::EM_ARM, _) => (
                "arm-linux-gnueabihf",
                FLAG_ARM_LIBHF,
                "/lib/ld-linux-armhf.so.3",
            ),
            (header::EM_PPC64, _) => (
                "powerpc64le-linux-gnu",
                FLAG_POWERPC_LIB64,
                "/lib64/ld64.so.2",
            ),
            (header::EM_S390, _) => ("s390x-linux-gnu", FLAG_S390_LIB64, "/lib/ld64.so.1"),
            (header::EM_RISCV, _) => (
                "riscv64-linux-gnu",
                FLAG_RISCV_FLOAT_ABI_DOUBLE,
                "/lib/ld-linux-riscv64-lp64d.so.1",
            ),
            _ => ("", 0, ""),
        };
        let multiarch = !triplet.is_empty()
            && host.exists(&Path::new("/usr/lib").join(triplet))
            && !(is64 && triplet.starts_with("x86_64") && abi.class != header::ELFCLASS64);
        let lib64 = is64 && host.exists(Path::new("/usr/lib64")) && !multiarch;
        let (default_dirs, lib) = if multiarch {
            (
                vec![
                    format!("/lib/{triplet}"),
                    format!("/usr/lib/{triplet}"),
                    "/lib".to_string(),
                    "/usr/lib".to_string(),
                ],
                format!("lib/{triplet}"),
            )
        } else if lib64 {
            (
                vec!["/lib64".into(), "/usr/lib64".into()],
                "lib64".to_string(),
            )
        } else {
            (vec!["/lib".into(), "/usr/lib".into()], "lib".to_string())
        };
        Target {
            abi,
            cache_flags: FLAG_ELF_LIBC6 | flags,
            generic_flags: flags == 0,
            default_dirs,
            lib,
            interpreter: interp.to_string(),
            x86_64: abi.machine == header::EM_X86_64 && is64,
        }
    }

    pub fn accepts_cache_flags(&self, flags: i32) -> bool {
        flags == self.cache_flags || (self.generic_flags && flags == 1)
    }

    /// Whether a path lies under one of the default directories: glibc compares prefixes when
    /// DF_1_NODEFLIB forbids cache entries from there.
    pub fn in_default_dirs(&self, path: &str) -> bool {
        self.default_dirs.iter().any(|d| {
            path.strip_prefix(d.as_str())
                .is_some_and(|r| r.starts_with('/'))
        })
    }
}
