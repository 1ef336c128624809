//! The OCI runtime the host runs containers with: runc (or crun) from this machine, with every
//! shared object glibc's loader would load for it, found by liftkit's own ELF resolver.

use super::cpio::{Archive, Data};
use super::HostImageError;
use crate::elf::{LoaderEnv, ResolveOptions, Resolver};
use crate::host::Host;
use std::path::{Path, PathBuf};

/// crun first: a 0.5 MB C program against runc's 9 MB of Go, it is read from the system image
/// and starts the app in a fraction of runc's time under TCG (measured on the lifted nginx: see
/// the README's host-image section).
const CANDIDATES: &[&str] = &[
    "/usr/bin/crun",
    "/usr/local/bin/crun",
    "/usr/sbin/runc",
    "/usr/bin/runc",
    "/usr/local/sbin/runc",
    "/usr/local/bin/runc",
];

#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where it is inside the image: `/usr/bin/<its name>`.
    pub path: PathBuf,
    /// The file it was read from on this machine.
    pub source: PathBuf,
}

/// Adds the runtime and its libraries to the archive at the paths the loader opens them by.
pub fn add(given: Option<&Path>, archive: &mut Archive) -> Result<Runtime, HostImageError> {
    // The runtime is this machine's, not the source host's: its files are local paths.
    let host = crate::host::live();
    let chosen = match given {
        Some(p) => {
            let abs = std::path::absolute(p).map_err(|e| HostImageError::io(p.to_path_buf(), e))?;
            if !abs.is_file() {
                return Err(HostImageError::NoRuntime(format!(
                    "{} is not a file",
                    p.display()
                )));
            }
            abs
        }
        None => CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                HostImageError::NoRuntime("neither runc nor crun is installed".to_string())
            })?,
    };
    let real = host
        .real_path(&chosen)
        .map_err(|e| HostImageError::io(chosen.clone(), e))?;
    let resolver = Resolver::new(&host, ResolveOptions::default());
    let resolution = resolver.resolve(&real, &LoaderEnv::default());
    if !resolution.missing.is_empty() {
        let names: Vec<_> = resolution.missing.iter().map(|m| m.name.clone()).collect();
        return Err(HostImageError::NoRuntime(format!(
            "{} needs libraries not on this machine: {}",
            real.display(),
            names.join(", ")
        )));
    }
    // Always at /usr/bin: a runtime unpacked under /var, /tmp or /run on this machine would be
    // hidden in the host by the tmpfs init mounts there.
    // By the name it was chosen by (a symlink's, if it is one): crun acts on its argv[0].
    let name = chosen
        .file_name()
        .ok_or_else(|| HostImageError::NoRuntime(format!("{} is not a file", chosen.display())))?;
    let path = Path::new("/usr/bin").join(name);
    archive.file(
        &path.to_string_lossy(),
        0o755,
        0,
        0,
        Data::File(real.clone()),
    );
    let mut files = Vec::new();
    files.extend(resolution.interpreter.clone());
    files.extend(resolution.libraries.iter().map(|l| l.path.clone()));
    for f in &files {
        // Materialized at the spelling the loader uses, so no symlink farm is needed.
        let source = host
            .real_path(f)
            .map_err(|e| HostImageError::io(f.clone(), e))?;
        archive.file(&f.to_string_lossy(), 0o755, 0, 0, Data::File(source));
    }
    Ok(Runtime { path, source: real })
}
