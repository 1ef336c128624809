//! Loader-faithful ELF dependency resolution: what glibc's `ld.so` would load for a file on a
//! host, read through [`crate::host::Host`] and never by running anything.
//!
//! [`Resolver`] follows `elf/dl-load.c` (glibc 2.36, Debian 12's): PT_INTERP, DT_NEEDED breadth
//! first, DT_RPATH (inherited up the loader chain, ignored when DT_RUNPATH exists) before
//! `LD_LIBRARY_PATH`, DT_RUNPATH (the object's own needs only), `/etc/ld.so.cache` (with its
//! glibc-hwcaps entries), then the default directories; each directory expanded into its hwcaps
//! subdirectories for a chosen CPU level; objects of another class or machine skipped; `$ORIGIN`,
//! `$LIB` and `$PLATFORM` expanded; `LD_PRELOAD` and `/etc/ld.so.preload` loaded first. Objects
//! are deduplicated as ld.so does: by the names they were requested under, their SONAME, and
//! file identity.
//!
//! Libraries that only `dlopen` brings in are inferred from evidence in [`Resolver::dlopen_evidence`].
//!
//! Known simplifications (none matters on a current distribution): relative search entries are
//! taken from `/` (the process's working directory is unknown); setuid secure-mode restrictions
//! are not applied; legacy hwcap entries in ld.so.cache are skipped; the main program's
//! `$ORIGIN` is its symlink-resolved directory, as under a real `execve` (ldd uses the path given).

mod evidence;
pub mod hwcaps;
pub mod ldcache;
pub mod ldconf;
pub mod object;
mod resolve;
pub mod search;
pub mod symbols;
pub mod target;
mod walk;

use std::path::PathBuf;

use serde::Serialize;

/// Maps keyed by paths and names the resolver looks up for every DT_NEEDED entry: a fast,
/// unkeyed-quality hash is enough (the keys come from the host, collisions only cost time).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

pub use resolve::Resolver;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ResolveOptions {
    /// x86-64 micro-architecture level (1..=4) whose glibc-hwcaps variants may be used; None
    /// detects the host's from `/proc/cpuinfo`.
    pub cpu_level: Option<u8>,
}

/// The loader-relevant environment of the target process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoaderEnv {
    pub ld_library_path: Option<String>,
    pub ld_preload: Option<String>,
}

/// How a library was found, in ld.so's search order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Preload,
    Rpath,
    LdLibraryPath,
    Runpath,
    Cache,
    /// No ld.so.cache in the root: found in an `/etc/ld.so.conf` directory, standing in for the
    /// cache ldconfig would have written.
    LdSoConf,
    DefaultDir,
    /// The DT_NEEDED entry was a path.
    Direct,
    /// Satisfied by the dynamic loader itself (its SONAME or PT_INTERP name).
    Interpreter,
}

#[derive(Debug, Clone, Serialize)]
pub struct Library {
    /// The DT_NEEDED string (or preload entry) that brought it in.
    pub name: String,
    /// The path ld.so opens, spelled as it does (as `ldd` prints it).
    pub path: PathBuf,
    pub needed_by: PathBuf,
    pub via: Via,
}

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub name: String,
    pub needed_by: PathBuf,
}

/// A file `dlopen` would bring in at run time, and why we think so.
#[derive(Debug, Clone, Serialize)]
pub struct Extra {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resolution {
    pub file: PathBuf,
    /// PT_INTERP as written.
    pub interpreter: Option<PathBuf>,
    /// Every object ld.so would load, in its load order (preloads first).
    pub libraries: Vec<Library>,
    pub missing: Vec<Missing>,
    pub warnings: Vec<String>,
    /// glibc-hwcaps variants taken (e.g. "x86-64-v3").
    pub hwcaps_used: Vec<String>,
}
