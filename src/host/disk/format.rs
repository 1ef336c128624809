//! Disk image formats: raw is read as it is; qcow2 and vmdk are shown as raw by
//! `qemu-storage-daemon`, QEMU's own reader of them, exported read-only over FUSE inside
//! liftkit's private mount namespace (so nobody else sees the export, and it ends with liftkit).

use super::DiskError;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Raw,
    Qcow2,
    Vmdk,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
        }
    }
}

/// The image's format from its first bytes; formats liftkit does not read are refused by name.
pub fn detect(file: &Path, head: &[u8]) -> Result<Format, DiskError> {
    let unsupported = |what: &str| DiskError::Unsupported {
        file: file.to_path_buf(),
        partition: "whole disk".into(),
        found: what.to_string(),
    };
    if head.starts_with(b"QFI\xfb") {
        // Byte 32..40: the encryption method (0 none, 1 AES, 2 LUKS).
        let crypt = head
            .get(32..36)
            .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap_or_default()));
        if crypt != 0 {
            return Err(unsupported("an encrypted qcow2 image (needs its key)"));
        }
        return Ok(Format::Qcow2);
    }
    if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        return Ok(Format::Vmdk);
    }
    if head.starts_with(b"conectix") {
        return Err(unsupported(
            "a VHD image (convert it to raw or qcow2 with qemu-img)",
        ));
    }
    if head.starts_with(b"<<< Oracle VM VirtualBox Disk Image >>>") {
        return Err(unsupported(
            "a VirtualBox VDI image (convert it with qemu-img)",
        ));
    }
    if head.starts_with(b"vhdxfile") {
        return Err(unsupported("a VHDX image (convert it with qemu-img)"));
    }
    if head.starts_with(b"LUKS\xba\xbe") {
        return Err(unsupported("a LUKS-encrypted disk (needs its passphrase)"));
    }
    Ok(Format::Raw)
}

/// A running qemu-storage-daemon exporting the image as a raw file at `raw`.
pub struct Export {
    child: Child,
    pub raw: PathBuf,
}

impl Export {
    pub fn start(
        file: &Path,
        format: Format,
        raw: &Path,
        force: bool,
    ) -> Result<Export, DiskError> {
        std::fs::write(raw, b"")
            .map_err(|e| DiskError::io(raw, "cannot create the export point", e))?;
        // force-share lets a forced read go past a running VM's lock; never without --force.
        let share = if force { ",force-share=on" } else { "" };
        let mut cmd = Command::new("qemu-storage-daemon");
        // The daemon must not outlive liftkit, however liftkit ends.
        // SAFETY: prctl is async-signal-safe and touches only the forked child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .arg("--blockdev")
            .arg(format!(
                "driver=file,node-name=file,filename={},read-only=on{share}",
                qemu_escape(file)
            ))
            .arg("--blockdev")
            .arg(format!("driver={},node-name=disk,file=file,read-only=on{share}", format.name()))
            .arg("--export")
            .arg(format!("type=fuse,id=raw,node-name=disk,mountpoint={},writable=off", qemu_escape(raw)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DiskError::Tool(format!("qemu-storage-daemon (QEMU's reader of {} images, Debian package qemu-system-common): {e}", format.name())))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let err = err
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                if err.contains("lock") {
                    return Err(DiskError::Busy {
                        file: file.to_path_buf(),
                        why: format!("QEMU could not lock it ({err}): a running VM is using it"),
                    });
                }
                return Err(DiskError::Corrupt {
                    file: file.to_path_buf(),
                    partition: "whole disk".into(),
                    found: format!(
                        "not a readable {} image (qemu-storage-daemon {status}: {err})",
                        format.name()
                    ),
                });
            }
            if is_mount_point(raw) {
                return Ok(Export {
                    child,
                    raw: raw.to_path_buf(),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(DiskError::Tool(
                    "qemu-storage-daemon did not export the image within 60 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        // SIGTERM lets it unmount its export; then reap it.
        // SAFETY: a plain kill(2) of the child this value owns.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.raw);
    }
}

/// QEMU's option syntax doubles commas inside values.
fn qemu_escape(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

/// Whether `path` is a mount point in this mount namespace.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(path) else {
        return false;
    };
    let want = real.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
    })
}
