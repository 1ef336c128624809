//! The kernel and the modules the host needs from it: found on this machine (or given), checked
//! against each other, and resolved through modules.dep so dependencies load first.

use super::HostImageError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the host needs that Debian-style kernels build as modules, in load order; each pulls its
/// modules.dep dependencies in before it.
pub const NEEDED: &[(&str, &str)] = &[
    ("virtio_pci", "the virtio PCI bus qemu's devices sit on"),
    ("virtio_net", "the network"),
    (
        "overlay",
        "the app's writable root over its read-only layer",
    ),
    ("button", "the ACPI power button (clean shutdown)"),
    ("evdev", "reading the power button's key events"),
    ("virtio_blk", "the data disk"),
    ("crc32c_generic", "ext4 metadata checksums on the data disk"),
    ("ext4", "the data disk's filesystem"),
];

#[derive(Debug, Clone)]
pub struct Kernel {
    pub image: PathBuf,
    pub modules_dir: PathBuf,
    /// The release its modules directory is named after (`6.1.0-26-amd64`).
    pub release: String,
}

#[derive(Debug, Clone)]
pub struct Module {
    /// Path under the modules dir, without a compression suffix (`kernel/fs/overlayfs/overlay.ko`).
    pub rel: String,
    pub bytes: Vec<u8>,
}

/// The kernel image and modules dir: given, or this machine's running kernel's.
pub fn locate(kernel: Option<&Path>, modules: Option<&Path>) -> Result<Kernel, HostImageError> {
    let running = running_release();
    let image = match kernel {
        Some(k) => k.to_path_buf(),
        None => PathBuf::from(format!("/boot/vmlinuz-{running}")),
    };
    if !image.is_file() {
        return Err(HostImageError::NoKernel {
            path: image,
            hint: other_kernels(),
        });
    }
    let version = bzimage_version(&image);
    let modules_dir = match modules {
        Some(m) => m.to_path_buf(),
        None => {
            let release = version.clone().unwrap_or(running);
            PathBuf::from(format!("/lib/modules/{release}"))
        }
    };
    if !modules_dir.join("modules.dep").is_file() {
        return Err(HostImageError::NoModules(modules_dir));
    }
    let release = modules_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(v) = version.filter(|v| *v != release) {
        return Err(HostImageError::KernelMismatch {
            kernel: image,
            version: v,
            modules: modules_dir,
        });
    }
    Ok(Kernel {
        image,
        modules_dir,
        release,
    })
}

fn running_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn other_kernels() -> String {
    let mut found: Vec<String> = std::fs::read_dir("/boot")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .map(|p| p.display().to_string())
        .collect();
    found.sort();
    found
        .first()
        .map(|k| format!(" (this machine has {k})"))
        .unwrap_or_default()
}

/// The release a bzImage announces (its setup header points at the version string), if it is one.
pub fn bzimage_version(image: &Path) -> Option<String> {
    let mut f = std::fs::File::open(image).ok()?;
    let mut head = vec![0u8; 0x4000];
    let n = std::io::Read::read(&mut f, &mut head).ok()?;
    head.truncate(n);
    if head.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let offset = u16::from_le_bytes([head[0x20e], head[0x20f]]) as usize + 0x200;
    let text = head.get(offset..)?;
    let end = text.iter().position(|b| *b == 0 || *b == b' ')?;
    std::str::from_utf8(&text[..end]).ok().map(str::to_string)
}

/// The needed modules and their dependencies, dependencies first; built-in ones are skipped.
pub fn modules(k: &Kernel) -> Result<Vec<Module>, HostImageError> {
    let dep_text = std::fs::read_to_string(k.modules_dir.join("modules.dep"))
        .map_err(|e| HostImageError::io(k.modules_dir.join("modules.dep"), e))?;
    let builtin =
        std::fs::read_to_string(k.modules_dir.join("modules.builtin")).unwrap_or_default();
    let deps = parse_dep(&dep_text);
    let mut order: Vec<String> = Vec::new();
    for (name, purpose) in NEEDED {
        if builtin.lines().any(|l| module_name(l) == *name) {
            continue;
        }
        let Some((path, needs)) = deps.iter().find(|(p, _)| module_name(p) == *name) else {
            return Err(HostImageError::MissingModule {
                module: name.to_string(),
                purpose: purpose.to_string(),
                dir: k.modules_dir.clone(),
            });
        };
        // modules.dep lists a module's dependencies deepest last: load them in reverse.
        for p in needs.iter().rev().chain(std::iter::once(path)) {
            if !order.contains(p) {
                order.push(p.clone());
            }
        }
    }
    order
        .into_iter()
        .map(|rel| {
            let path = k.modules_dir.join(&rel);
            let raw = std::fs::read(&path).map_err(|e| HostImageError::io(path.clone(), e))?;
            let (rel, bytes) = decompress(&rel, raw).map_err(|e| HostImageError::io(path, e))?;
            Ok(Module { rel, bytes })
        })
        .collect()
}

fn parse_dep(text: &str) -> Vec<(String, Vec<String>)> {
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

/// `kernel/drivers/net/virtio_net.ko.xz` → `virtio_net` (modprobe treats - and _ alike).
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// finit_module wants the plain ELF (unless the kernel decompresses itself, which not all do).
fn decompress(rel: &str, raw: Vec<u8>) -> std::io::Result<(String, Vec<u8>)> {
    if let Some(stem) = rel.strip_suffix(".xz") {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(raw.as_slice()), &mut out).map_err(
            |e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("xz: {e:?}")),
        )?;
        return Ok((stem.to_string(), out));
    }
    if let Some(stem) = rel.strip_suffix(".gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(raw.as_slice()), &mut out)?;
        return Ok((stem.to_string(), out));
    }
    if rel.ends_with(".zst") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "zstd-compressed modules are not supported: give an uncompressed or .xz modules tree",
        ));
    }
    Ok((rel.to_string(), raw))
}

/// Names of the modules in load order, for the report.
pub fn names(mods: &[Module]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    mods.iter()
        .map(|m| module_name(&m.rel))
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dependency_lines() {
        assert_eq!(
            module_name("kernel/drivers/net/virtio_net.ko.xz"),
            "virtio_net"
        );
        assert_eq!(
            module_name("kernel/arch/x86/crypto/crc32c-intel.ko"),
            "crc32c_intel"
        );
        let deps = parse_dep("kernel/a.ko: kernel/b.ko kernel/c.ko\nkernel/c.ko:\n");
        assert_eq!(deps[0].1, ["kernel/b.ko", "kernel/c.ko"]);
        assert!(deps[1].1.is_empty());
    }
}
