//! The kernel and the modules the host needs from it: found on this machine (or given), checked
//! against each other, and put in load order (dependencies first) by `modules`.

pub use super::modules::Module;
use super::modules::{self, Tree};
use super::HostImageError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the host needs that Debian-style kernels build as modules, in load order; each pulls its
/// dependencies in before it.
pub const NEEDED: &[(&str, &str)] = &[
    ("loop", "attaching the read-only system image"),
    ("squashfs", "the read-only system image's filesystem"),
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
    if !modules::is_tree(&modules_dir) {
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

/// The entries of `dir` whose names start with `prefix`, sorted (none when it cannot be read).
pub fn named_like(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    found.sort();
    found
}

fn other_kernels() -> String {
    named_like(Path::new("/boot"), "vmlinuz-")
        .first()
        .map(|k| format!(" (this machine has {})", k.display()))
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

/// The memory a bzImage needs before its init runs: it is decompressed at its preferred load
/// address (setup header `pref_address`) into `init_size` bytes; below that no -m boots it.
pub fn load_floor(image: &Path) -> Option<u64> {
    let mut head = vec![0u8; 0x270];
    std::io::Read::read_exact(&mut std::fs::File::open(image).ok()?, &mut head).ok()?;
    if head.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let pref = u64::from_le_bytes(head[0x258..0x260].try_into().ok()?);
    let init_size = u32::from_le_bytes(head[0x260..0x264].try_into().ok()?);
    Some(pref + u64::from(init_size))
}

/// Whether the bzImage is also a PE image (CONFIG_EFI_STUB): what EFI firmware and GRUB's EFI
/// loader start, and what its EFI handover entry (xloadflags) belongs to.
pub fn has_efi_stub(image: &Path) -> bool {
    let mut head = vec![0u8; 0x400];
    let n = std::fs::File::open(image)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head.truncate(n);
    let Some(pe) = head.get(0x3c..0x40) else {
        return false;
    };
    let pe = u32::from_le_bytes([pe[0], pe[1], pe[2], pe[3]]) as usize;
    head.starts_with(b"MZ") && head.get(pe..pe + 4) == Some(b"PE\0\0")
}

/// The needed modules and their dependencies, dependencies first; built-in ones are skipped.
pub fn modules(k: &Kernel) -> Result<Vec<Module>, HostImageError> {
    let tree = Tree::open(&k.modules_dir)?;
    let mut order = Vec::new();
    for (name, purpose) in NEEDED {
        if tree.load_order(name, &mut order)?.is_none() {
            return Err(HostImageError::MissingModule {
                module: name.to_string(),
                purpose: purpose.to_string(),
                dir: k.modules_dir.clone(),
            });
        }
    }
    Ok(order)
}

/// Names of the modules in load order, for the report.
pub fn names(mods: &[Module]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    mods.iter()
        .map(|m| modules::name_of(&m.rel))
        .filter(|n| seen.insert(n.clone()))
        .collect()
}
