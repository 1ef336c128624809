//! The external programs a host image needs, each with the Debian package that provides it, so
//! a missing one is named with what to install. Found on `PATH` (sbin directories included).

use super::HostImageError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
    /// What liftkit uses it for, in the error line.
    pub purpose: &'static str,
}

pub const TAR2SQFS: Tool = Tool {
    program: "tar2sqfs",
    package: "squashfs-tools-ng",
    purpose: "the read-only system image (squashfs)",
};
pub const GRUB_MKIMAGE: Tool = Tool {
    program: "grub-mkimage",
    package: "grub-common",
    purpose: "the boot loader of iso and raw formats",
};
pub const XORRISO: Tool = Tool {
    program: "xorriso",
    package: "xorriso",
    purpose: "the iso format",
};
pub const QEMU_IMG: Tool = Tool {
    program: "qemu-img",
    package: "qemu-utils",
    purpose: "the qcow2 and vmdk formats",
};
pub const MKFS_EXT4: Tool = Tool {
    program: "mkfs.ext4",
    package: "e2fsprogs",
    purpose: "the data disk",
};

/// A directory of GRUB modules for one platform, shipped by its own Debian package.
#[derive(Debug, Clone, Copy)]
pub struct GrubPlatform {
    pub target: &'static str,
    pub package: &'static str,
}

pub const GRUB_BIOS: GrubPlatform = GrubPlatform {
    target: "i386-pc",
    package: "grub-pc-bin",
};
pub const GRUB_EFI: GrubPlatform = GrubPlatform {
    target: "x86_64-efi",
    package: "grub-efi-amd64-bin",
};

/// Where Debian installs GRUB's platform directories; `LIFTKIT_GRUB_DIR` points elsewhere.
pub fn grub_dir(p: GrubPlatform, format: &str) -> Result<PathBuf, HostImageError> {
    let base = std::env::var_os("LIFTKIT_GRUB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/grub"));
    let dir = base.join(p.target);
    if dir.join("linux.mod").is_file() {
        Ok(dir)
    } else {
        Err(HostImageError::Tool(format!(
            "--format {format} needs GRUB's {} modules ({} is missing): install the Debian package {}",
            p.target,
            dir.display(),
            p.package
        )))
    }
}

/// The program's path, or an error naming the package to install.
pub fn find(t: Tool, format: &str) -> Result<PathBuf, HostImageError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .collect::<Vec<_>>();
    dirs.iter()
        .map(|d| d.join(t.program))
        .find(|p| is_executable(p))
        .ok_or_else(|| missing(t, format))
}

pub fn missing(t: Tool, format: &str) -> HostImageError {
    HostImageError::Tool(format!(
        "--format {format} needs {} for {}, which is not installed: install the Debian package {}",
        t.program, t.purpose, t.package
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a command to completion; a failure is one line with the program and its stderr.
pub fn run(cmd: &mut Command) -> Result<Output, HostImageError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostImageError::Tool(format!("{program}: {e}")))?;
    if !out.status.success() {
        return Err(failed(&program, &out));
    }
    Ok(out)
}

pub fn failed(program: &str, out: &Output) -> HostImageError {
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    HostImageError::Tool(format!("{program} failed ({}): {last}", out.status))
}
