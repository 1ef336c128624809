//! The shared, thread-safe state of a resolution run: the loader configuration read once per
//! host, and caches of every directory listing and parsed object, so resolving 3,000 files
//! parses libc once.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use goblin::elf::header;

use super::hwcaps::{self, HwCaps};
use super::ldcache::LdCache;
use super::object::{self, Abi, ElfObject, ObjectError, SizedFile};
use super::target::Target;
use super::walk::Walk;
use super::{evidence, ldconf, Extra, FastMap, FastSet, LoaderEnv, Resolution, ResolveOptions};
use crate::host::Host;

/// ld.so.cache and ld.so.preload larger than this are corrupt (a full system's cache is ~100 KB).
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A parsed object and its file identity (device, inode), which ld.so also deduplicates by.
#[derive(Debug)]
pub(crate) struct Found {
    pub obj: ElfObject,
    pub id: (u64, u64),
}

/// The outcome of trying to open a path as ld.so's `open_verify` would.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    Absent,
    Found(Arc<Found>),
    /// Exists but cannot be loaded; ld.so stops with this error.
    Bad(Arc<str>),
}

pub struct Resolver {
    host: Box<dyn Host>,
    level: u8,
    pub(crate) cache: Option<LdCache>,
    /// Directories from ld.so.conf, used only when there is no cache.
    pub(crate) conf_dirs: Vec<String>,
    pub(crate) preload_file: Vec<String>,
    warnings: Vec<String>,
    hw: FastMap<bool, HwCaps>,
    targets: Mutex<FastMap<Abi, Arc<Target>>>,
    dirs: Mutex<FastMap<String, Option<Arc<FastSet<OsString>>>>>,
    objects: Mutex<FastMap<String, Probe>>,
    imports: Mutex<FastMap<String, Arc<Vec<String>>>>,
    pub(crate) glibc_234: Mutex<FastMap<Abi, bool>>,
}

impl Resolver {
    pub fn new(host: &dyn Host, opts: ResolveOptions) -> Self {
        let host = host.boxed();
        let mut warnings = Vec::new();
        let level = match opts.cpu_level {
            Some(l) if (1..=4).contains(&l) => l,
            Some(l) => {
                warnings.push(format!("cpu level {l} out of range 1..=4; using 1"));
                1
            }
            None => hwcaps::detect_level(&*host).unwrap_or_else(|| {
                warnings.push("no x86 flags in /proc/cpuinfo; assuming x86-64 level 1".into());
                1
            }),
        };
        let cache = load_cache(&*host, &mut warnings);
        let conf_dirs = if cache.is_none() {
            let conf = ldconf::load(&*host, Path::new("/etc/ld.so.conf"));
            warnings.extend(conf.warnings);
            conf.dirs
        } else {
            Vec::new()
        };
        let preload_file = load_preload(&*host);
        let hw = [
            (true, HwCaps::new(level, true)),
            (false, HwCaps::new(level, false)),
        ]
        .into_iter()
        .collect();
        Resolver {
            host,
            level,
            cache,
            conf_dirs,
            preload_file,
            warnings,
            hw,
            targets: Mutex::default(),
            dirs: Mutex::default(),
            objects: Mutex::default(),
            imports: Mutex::default(),
            glibc_234: Mutex::default(),
        }
    }

    pub fn cpu_level(&self) -> u8 {
        self.level
    }

    pub fn host(&self) -> &dyn Host {
        &*self.host
    }

    /// Problems with the loader configuration itself (unreadable cache, bad levels).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn resolve(&self, file: &Path, env: &LoaderEnv) -> Resolution {
        Walk::run(self, file, env)
    }

    /// Files libc would `dlopen` for this object, inferred from the symbols it imports.
    pub fn dlopen_evidence(&self, file: &Path) -> Vec<Extra> {
        evidence::collect(self, file)
    }

    pub(crate) fn hwcaps(&self, target: &Target) -> &HwCaps {
        &self.hw[&target.x86_64]
    }

    pub(crate) fn target(&self, abi: Abi) -> Arc<Target> {
        if let Some(t) = lock(&self.targets).get(&abi) {
            return t.clone();
        }
        let t = Arc::new(Target::new(&*self.host, abi));
        lock(&self.targets).insert(abi, t.clone());
        t
    }

    /// Whether `dir` (as ld.so spells it) holds an entry `name`, from one listing per directory.
    fn listed(&self, dir: &str, name: &str) -> bool {
        let cached = lock(&self.dirs).get(dir).cloned();
        let listing = match cached {
            Some(l) => l,
            None => {
                let l = self
                    .host
                    .read_dir(Path::new(dir))
                    .ok()
                    .map(|names| Arc::new(names.into_iter().collect::<FastSet<_>>()));
                lock(&self.dirs).insert(dir.to_string(), l.clone());
                l
            }
        };
        listing.is_some_and(|l| l.contains(std::ffi::OsStr::new(name)))
    }

    /// Opens and parses a search candidate once per run; later calls share the result. A
    /// directory listing answers most misses without an `open`.
    pub(crate) fn probe(&self, path: &str) -> Probe {
        self.probe_with(path, true)
    }

    /// The same for a path named outright (the program itself), where listing its directory
    /// would cost more than the open.
    pub(crate) fn probe_direct(&self, path: &str) -> Probe {
        self.probe_with(path, false)
    }

    fn probe_with(&self, path: &str, list_dir: bool) -> Probe {
        if let Some(p) = lock(&self.objects).get(path) {
            return p.clone();
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = if dir.is_empty() { "/" } else { dir };
        let p = if name.is_empty() || (list_dir && !self.listed(dir, name)) {
            Probe::Absent
        } else {
            self.open_and_parse(path)
        };
        lock(&self.objects).insert(path.to_string(), p.clone());
        p
    }

    fn open_and_parse(&self, path: &str) -> Probe {
        use std::os::unix::fs::MetadataExt;
        let opened = self.host.open(Path::new(path)).and_then(|file| {
            let meta = file.metadata()?;
            if meta.is_dir() {
                return Err(io::Error::from(io::ErrorKind::NotFound));
            }
            Ok((
                SizedFile {
                    file,
                    size: meta.len(),
                },
                (meta.dev(), meta.ino()),
            ))
        });
        let (file, id) = match opened {
            Ok(x) => x,
            Err(_) => return Probe::Absent,
        };
        match object::parse(&file) {
            Ok(obj) => Probe::Found(Arc::new(Found { obj, id })),
            Err(ObjectError::NotElf) => Probe::Bad("invalid ELF header".into()),
            Err(ObjectError::Truncated(_)) => Probe::Bad("file too short".into()),
            Err(e) => Probe::Bad(e.to_string().into()),
        }
    }

    /// Imported symbol names of an object, cached.
    pub(crate) fn imports(&self, path: &str) -> Result<Arc<Vec<String>>, String> {
        if let Some(i) = lock(&self.imports).get(path) {
            return Ok(i.clone());
        }
        let file = self
            .host
            .open(Path::new(path))
            .map_err(|e| format!("{path}: {e}"))?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let syms = super::symbols::imported(&SizedFile { file, size })
            .map_err(|e| format!("{path}: {e}"))?;
        let syms = Arc::new(syms);
        lock(&self.imports).insert(path.to_string(), syms.clone());
        Ok(syms)
    }
}

/// ld.so's `open_verify` checks against the loader's own build, after the file parsed.
pub(crate) enum Verdict {
    Load,
    /// Another class or machine: skipped silently, the search goes on.
    Skip(String),
    /// ld.so refuses the file and stops.
    Fatal(String),
}

pub(crate) fn verify(found: &Found, target: &Target) -> Verdict {
    let Some(abi) = found.obj.abi else {
        return Verdict::Fatal("invalid ELF header".into());
    };
    if abi.class != target.abi.class {
        return Verdict::Skip(format!("ELF class {} (wrong class)", abi.class));
    }
    if abi.data != target.abi.data {
        return Verdict::Fatal("ELF file data encoding does not match".into());
    }
    if !matches!(
        found.obj.osabi,
        header::ELFOSABI_NONE | header::ELFOSABI_GNU
    ) {
        return Verdict::Fatal("ELF file OS ABI invalid".into());
    }
    if abi.machine != target.abi.machine {
        return Verdict::Skip(format!("machine {} (wrong machine)", abi.machine));
    }
    if found.obj.e_type != header::ET_DYN && found.obj.e_type != header::ET_EXEC {
        return Verdict::Fatal("only ET_DYN and ET_EXEC can be loaded".into());
    }
    Verdict::Load
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these caches half-written in a harmful way.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn load_cache(host: &dyn Host, warnings: &mut Vec<String>) -> Option<LdCache> {
    let path = Path::new("/etc/ld.so.cache");
    let bytes = host.read_limited(path, MAX_CONFIG_BYTES).ok()?;
    match LdCache::parse(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            warnings.push(format!(
                "/etc/ld.so.cache: {e}; using /etc/ld.so.conf instead"
            ));
            None
        }
    }
}

/// `/etc/ld.so.preload`: names separated by white space or `:`, `#` comments.
fn load_preload(host: &dyn Host) -> Vec<String> {
    let Ok(bytes) = host.read_limited(Path::new("/etc/ld.so.preload"), MAX_CONFIG_BYTES) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| {
            l.split([' ', '\t', ':'])
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .take(1024)
        .collect()
}

/// The directory part of a path as ld.so computes `$ORIGIN` for a loaded object.
pub(crate) fn dirname(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((d, _)) => d.into(),
        None => "/".into(),
    }
}

pub(crate) fn to_path(s: &str) -> PathBuf {
    PathBuf::from(s)
}
