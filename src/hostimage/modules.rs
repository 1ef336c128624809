//! Kernel modules in load order, from a `lib/modules/<release>` tree as a user has it.
//!
//! An installed kernel has `modules.dep` (depmod's output); a kernel package unpacked with
//! `dpkg-deb -x` does not, because the package's postinst runs depmod. Each module carries its own
//! dependencies in its `.modinfo` section (`depends=a,b`), which is what depmod reads: without
//! modules.dep, liftkit reads that field from the modules it needs, and nothing else. It never
//! runs depmod and never writes into the tree.

use super::HostImageError;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Suffixes a module file may have, as kmod accepts them.
const SUFFIXES: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

#[derive(Debug, Clone)]
pub struct Module {
    /// Path under the modules dir, without a compression suffix (`kernel/fs/overlayfs/overlay.ko`).
    pub rel: String,
    /// The plain ELF object: finit_module wants it uncompressed (not every kernel decompresses).
    pub bytes: Vec<u8>,
}

/// One modules tree: where each module is, which are built in, and the dependency source.
pub struct Tree {
    dir: PathBuf,
    /// Module name → its path under `dir`, as written there (with any compression suffix).
    files: BTreeMap<String, String>,
    builtin: BTreeSet<String>,
    /// depmod's answer when the tree has one: module path → its dependencies' paths.
    dep: Option<BTreeMap<String, Vec<String>>>,
}

/// True when `dir` looks like a modules tree at all (for the "no modules" error).
pub fn is_tree(dir: &Path) -> bool {
    ["modules.dep", "modules.order", "modules.builtin"]
        .iter()
        .any(|f| dir.join(f).is_file())
        || dir.join("kernel").is_dir()
}

impl Tree {
    pub fn open(dir: &Path) -> Result<Tree, HostImageError> {
        let dep = match std::fs::read_to_string(dir.join("modules.dep")) {
            Ok(text) => Some(parse_dep(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(HostImageError::io(dir.join("modules.dep"), e)),
        };
        let builtin = std::fs::read_to_string(dir.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .map(name_of)
            .collect();
        Ok(Tree {
            dir: dir.to_path_buf(),
            files: index(dir),
            builtin,
            dep,
        })
    }

    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// `name` and everything it depends on, dependencies first, each module once across calls
    /// (`loaded` carries what earlier calls already placed). None when the tree has no such module.
    pub fn load_order(
        &self,
        name: &str,
        loaded: &mut Vec<Module>,
    ) -> Result<Option<()>, HostImageError> {
        let name = normalize(name);
        if self.is_builtin(&name) {
            return Ok(Some(()));
        }
        let Some(rel) = self.path_of(&name) else {
            return Ok(None);
        };
        let mut visiting = BTreeSet::new();
        self.place(&rel, loaded, &mut visiting)?;
        Ok(Some(()))
    }

    fn path_of(&self, name: &str) -> Option<String> {
        if let Some(dep) = &self.dep {
            if let Some(p) = dep.keys().find(|p| name_of(p) == name) {
                return Some(p.clone());
            }
        }
        self.files.get(name).cloned()
    }

    /// Depth first: a module's dependencies are placed before it. A cycle (which the kernel would
    /// refuse to load) ends the walk instead of looping.
    fn place(
        &self,
        rel: &str,
        loaded: &mut Vec<Module>,
        visiting: &mut BTreeSet<String>,
    ) -> Result<(), HostImageError> {
        let plain = strip_compression(rel);
        if loaded.iter().any(|m| m.rel == plain) || !visiting.insert(rel.to_string()) {
            return Ok(());
        }
        let path = self.dir.join(rel);
        let raw = std::fs::read(&path).map_err(|e| HostImageError::io(path.clone(), e))?;
        let bytes = decompress(rel, raw).map_err(|e| HostImageError::io(path.clone(), e))?;
        for dep in self.dependencies(rel, &bytes, &path)? {
            self.place(&dep, loaded, visiting)?;
        }
        if !loaded.iter().any(|m| m.rel == plain) {
            loaded.push(Module { rel: plain, bytes });
        }
        Ok(())
    }

    fn dependencies(
        &self,
        rel: &str,
        bytes: &[u8],
        path: &Path,
    ) -> Result<Vec<String>, HostImageError> {
        if let Some(dep) = &self.dep {
            // modules.dep lists a module's dependencies deepest last: load them in reverse.
            return Ok(dep
                .get(rel)
                .map(|d| d.iter().rev().cloned().collect())
                .unwrap_or_default());
        }
        let mut out = Vec::new();
        for name in depends(bytes).map_err(|e| HostImageError::io(path.to_path_buf(), e))? {
            if self.is_builtin(&name) {
                continue;
            }
            let Some(dep) = self.files.get(&normalize(&name)) else {
                return Err(HostImageError::MissingDependency {
                    module: name_of(rel),
                    dependency: name,
                    dir: self.dir.clone(),
                });
            };
            out.push(dep.clone());
        }
        Ok(out)
    }
}

/// Every module file under `dir`, by module name. When two files give one name, the one depmod
/// would pick wins: `updates/` before the rest, then the first in path order.
fn index(dir: &Path) -> BTreeMap<String, String> {
    let mut paths: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .ok()?
                .to_string_lossy()
                .into_owned();
            SUFFIXES.iter().any(|s| rel.ends_with(s)).then_some(rel)
        })
        .collect();
    paths.sort_by_key(|p| (!p.starts_with("updates/"), p.clone()));
    let mut files = BTreeMap::new();
    for p in paths {
        files.entry(name_of(&p)).or_insert(p);
    }
    files
}

fn parse_dep(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, deps)| {
            (
                m.trim().to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

/// The names in a module's `depends=` modinfo field (comma separated, possibly empty).
pub fn depends(elf: &[u8]) -> std::io::Result<Vec<String>> {
    let info = modinfo(elf)?;
    Ok(info
        .iter()
        .filter_map(|kv| kv.strip_prefix("depends="))
        .flat_map(|v| v.split(','))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect())
}

/// The `key=value` strings of the `.modinfo` section.
fn modinfo(elf: &[u8]) -> std::io::Result<Vec<String>> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let obj = goblin::elf::Elf::parse(elf).map_err(|e| bad(format!("not a kernel module: {e}")))?;
    let section = obj
        .section_headers
        .iter()
        .find(|s| obj.shdr_strtab.get_at(s.sh_name) == Some(".modinfo"))
        .ok_or_else(|| bad("not a kernel module: no .modinfo section".to_string()))?;
    let start = section.sh_offset as usize;
    let data = start
        .checked_add(section.sh_size as usize)
        .and_then(|end| elf.get(start..end))
        .ok_or_else(|| bad("truncated .modinfo section".to_string()))?;
    Ok(data
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// `kernel/drivers/net/virtio_net.ko.xz` → `virtio_net`; a modules.builtin line likewise.
pub fn name_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    normalize(file.split(".ko").next().unwrap_or(file))
}

/// modprobe treats `-` and `_` in module names alike.
fn normalize(name: &str) -> String {
    name.trim().replace('-', "_")
}

fn strip_compression(rel: &str) -> String {
    for s in [".xz", ".zst", ".gz"] {
        if let Some(stem) = rel.strip_suffix(s) {
            return stem.to_string();
        }
    }
    rel.to_string()
}

fn decompress(rel: &str, raw: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut out = Vec::new();
    if rel.ends_with(".xz") {
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(raw.as_slice()), &mut out)
            .map_err(|e| bad(format!("xz: {e:?}")))?;
    } else if rel.ends_with(".gz") {
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut out)?;
    } else if rel.ends_with(".zst") {
        ruzstd::decoding::StreamingDecoder::new(raw.as_slice())
            .map_err(|e| bad(format!("zstd: {e}")))?
            .read_to_end(&mut out)?;
    } else {
        return Ok(raw);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dependency_lines() {
        assert_eq!(name_of("kernel/drivers/net/virtio_net.ko.xz"), "virtio_net");
        assert_eq!(
            name_of("kernel/arch/x86/crypto/crc32c-intel.ko"),
            "crc32c_intel"
        );
        let deps = parse_dep("kernel/a.ko: kernel/b.ko kernel/c.ko\nkernel/c.ko:\n");
        assert_eq!(deps["kernel/a.ko"], ["kernel/b.ko", "kernel/c.ko"]);
        assert!(deps["kernel/c.ko"].is_empty());
        assert_eq!(strip_compression("kernel/a.ko.zst"), "kernel/a.ko");
    }

    /// An object with a `.modinfo` section, as the kernel build writes into every module.
    fn module(dir: &Path, rel: &str, depends: &str) {
        let obj = dir.join(rel);
        std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
        let src = dir.join("m.c");
        std::fs::write(
            &src,
            format!("__attribute__((section(\".modinfo\"), used)) static const char i[] = \"depends={depends}\\0vermagic=6.1\";\n"),
        )
        .unwrap();
        let ok = std::process::Command::new("gcc")
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap()
            .success();
        assert!(ok, "gcc built {rel}");
    }

    #[test]
    fn dependencies_come_first_from_modinfo_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        module(dir, "kernel/fs/ext4/ext4.ko", "mbcache,jbd2,crc16");
        module(dir, "kernel/fs/jbd2/jbd2.ko", "crc16");
        module(dir, "kernel/fs/mbcache.ko", "");
        module(dir, "kernel/lib/crc16.ko", "");
        module(dir, "kernel/fs/overlayfs/overlay.ko", "");
        std::fs::write(
            dir.join("modules.builtin"),
            "kernel/fs/overlayfs/overlay.ko\n",
        )
        .unwrap();
        let tree = Tree::open(dir).unwrap();
        let mut order = Vec::new();
        assert!(tree.load_order("ext4", &mut order).unwrap().is_some());
        assert!(tree.load_order("jbd2", &mut order).unwrap().is_some());
        assert!(tree.load_order("overlay", &mut order).unwrap().is_some());
        assert!(tree.load_order("nope", &mut order).unwrap().is_none());
        let names: Vec<String> = order.iter().map(|m| name_of(&m.rel)).collect();
        assert_eq!(
            names,
            ["mbcache", "crc16", "jbd2", "ext4"],
            "built-in overlay skipped"
        );
        assert_eq!(
            depends(&order[3].bytes).unwrap(),
            ["mbcache", "jbd2", "crc16"]
        );
    }
}
