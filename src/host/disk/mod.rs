//! A powered-off VM's disk image as the source host: raw, qcow2 or vmdk; GPT, MBR or no
//! partition table; ext2/3/4 or xfs.
//!
//! How it is read, and why: the kernel's own ext4 and xfs drivers are the most faithful readers
//! of those file systems (extents, inline data, xattrs, every feature flag), so the root file
//! system is mounted, but only in a way that cannot write: inside a mount namespace private to
//! liftkit, through a read-only loop device, `ro` with journal replay off. qcow2 and vmdk are
//! turned into a raw view by QEMU's own reader (`qemu-storage-daemon`, read-only, FUSE export).
//! The image file is never opened for writing, so it is byte-identical afterwards (tested by
//! digest). A disk a running VM is using is refused unless `--force`.
//!
//! Once mounted, the disk is a [`RootDir`] like any other: analysis and build read it through
//! the same [`Host`] trait as a live host.

mod busy;
mod format;
mod mount;
mod probe;
mod table;

use super::{Host, RootDir};
use probe::Content;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use format::Format;
pub use mount::enter_private_namespace;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    #[error("{}: {partition}: {found}", file.display())]
    Unsupported {
        file: PathBuf,
        partition: String,
        found: String,
    },
    #[error("{}: {partition}: {found}", file.display())]
    Corrupt {
        file: PathBuf,
        partition: String,
        found: String,
    },
    #[error("{}: refused: {why} (use --force to read it anyway)", file.display())]
    Busy { file: PathBuf, why: String },
    #[error("{}: no operating system root found ({found})", file.display())]
    NoRoot { file: PathBuf, found: String },
    #[error("{0}")]
    Tool(String),
    #[error("{0}")]
    Mount(String),
}

impl DiskError {
    fn io(path: &Path, what: &'static str, source: io::Error) -> Self {
        DiskError::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Read a disk that looks in use (locked, open for writing, changing).
    pub force: bool,
}

/// The root file system of a disk, as a host.
#[derive(Debug, Clone)]
pub struct DiskView {
    root: RootDir,
    /// `disk.qcow2 (qcow2), partition 2, ext4`
    what: String,
    file: PathBuf,
}

/// An opened disk: its mounts live as long as this value.
pub struct Disk {
    view: DiskView,
    mounts: Vec<PathBuf>,
    export: Option<format::Export>,
    scratch: PathBuf,
    image: File,
    stamp: busy::Stamp,
    force: bool,
    /// Partitions seen but not used (swap, an LVM volume beside the root), for the findings.
    pub notes: Vec<String>,
}

impl Disk {
    pub fn open(file: &Path, opts: &Options) -> Result<Disk, DiskError> {
        let file = std::fs::canonicalize(file)
            .map_err(|e| DiskError::io(file, "cannot open the disk image", e))?;
        let image =
            File::open(&file).map_err(|e| DiskError::io(&file, "cannot open the disk image", e))?;
        if !image.metadata().is_ok_and(|m| m.is_file()) {
            return Err(DiskError::Unsupported {
                file: file.clone(),
                partition: "whole disk".into(),
                found: "not a regular file (pass a disk image file)".into(),
            });
        }
        if !opts.force {
            if let Some(why) = busy::in_use(&file, &image) {
                return Err(DiskError::Busy { file, why });
            }
        }
        let stamp = busy::stamp(&image).map_err(|e| DiskError::io(&file, "cannot stat", e))?;
        let mut head = vec![0u8; 4096];
        let n = (&image)
            .take(4096)
            .read(&mut head)
            .map_err(|e| DiskError::io(&file, "cannot read", e))?;
        head.truncate(n);
        let format = format::detect(&file, &head)?;
        enter_once()?;
        let scratch = mount::scratch()?;
        let mut disk = Disk {
            view: DiskView {
                root: RootDir::new(&scratch),
                what: String::new(),
                file: file.clone(),
            },
            mounts: Vec::new(),
            export: None,
            scratch: scratch.clone(),
            image,
            stamp,
            force: opts.force,
            notes: Vec::new(),
        };
        let raw = match format {
            Format::Raw => file.clone(),
            other => {
                let e = format::Export::start(&file, other, &scratch.join("raw"), opts.force)?;
                let raw = e.raw.clone();
                disk.export = Some(e);
                raw
            }
        };
        disk.mount_root(&raw, format)?;
        Ok(disk)
    }

    pub fn host(&self) -> &DiskView {
        &self.view
    }

    /// Refuses a disk that changed while it was read (a VM was running after all), unless forced.
    pub fn check_unchanged(&self) -> Result<(), DiskError> {
        if self.force {
            return Ok(());
        }
        let now = busy::stamp(&self.image)
            .map_err(|e| DiskError::io(&self.view.file, "cannot stat", e))?;
        if now != self.stamp {
            return Err(DiskError::Busy {
                file: self.view.file.clone(),
                why: "it changed while liftkit read it: a running VM is writing to it".into(),
            });
        }
        Ok(())
    }

    fn mount_root(&mut self, raw: &Path, format: Format) -> Result<(), DiskError> {
        let file = self.view.file.clone();
        let mut view =
            File::open(raw).map_err(|e| DiskError::io(raw, "cannot open the raw view", e))?;
        let size = view
            .metadata()
            .map_err(|e| DiskError::io(raw, "cannot stat", e))?
            .len();
        let corrupt = |partition: &str, found: String| DiskError::Corrupt {
            file: file.clone(),
            partition: partition.to_string(),
            found,
        };
        let parts = match table::read(&mut view, size) {
            Ok(table::Table::Gpt(p) | table::Table::Mbr(p)) => p,
            Ok(table::Table::None) => vec![table::Partition {
                number: 0,
                offset: 0,
                size,
                kind: "no partition table".into(),
            }],
            Err(table::TableError::Corrupt(what)) => return Err(corrupt("partition table", what)),
            Err(table::TableError::Io(e)) => {
                return Err(corrupt(
                    "partition table",
                    format!("unreadable: {e} (truncated image?)"),
                ))
            }
        };
        let mut seen: Vec<(table::Partition, Content, Option<String>)> = Vec::new();
        let mut root = None;
        for p in parts {
            let label = partition_label(&p);
            let content = probe::probe(&mut view, p.offset, p.size)
                .map_err(|e| corrupt(&label, format!("unreadable: {e} (truncated image?)")))?;
            let fstype = match content {
                Content::Ext { .. } => "ext4",
                Content::Xfs { .. } => "xfs",
                _ => {
                    seen.push((p, content, None));
                    continue;
                }
            };
            let target = self.scratch.join(format!("p{}", p.number));
            std::fs::create_dir_all(&target)
                .map_err(|e| DiskError::io(&target, "cannot create", e))?;
            let (dev, _lo) = mount::attach(raw, p.offset, p.size, &self.scratch)?;
            if let Err(e) = mount::mount_ro(&dev, &target, fstype) {
                seen.push((
                    p,
                    content,
                    Some(format!(
                        "the kernel refused to mount it ({e}): corrupt or truncated"
                    )),
                ));
                continue;
            }
            self.mounts.push(target.clone());
            let looks_like_root = ["etc/os-release", "usr/lib/os-release", "etc/passwd"]
                .iter()
                .any(|f| target.join(f).exists());
            if root.is_none() && looks_like_root {
                root = Some((target, p.clone(), fstype));
            }
            seen.push((p, content, None));
        }
        let Some((target, part, fstype)) = root else {
            return Err(no_root(&file, &seen));
        };
        self.view.root = RootDir::new(&target);
        self.view.what = format!(
            "{} ({}), {}, {fstype}",
            file.display(),
            format.name(),
            partition_label(&part)
        );
        self.mount_fstab(&target, raw, &seen);
        for (p, content, problem) in &seen {
            if p.number == part.number {
                continue;
            }
            let what = problem.clone().unwrap_or_else(|| content.describe());
            self.notes.push(format!("{}: {what}", partition_label(p)));
        }
        Ok(())
    }

    /// Mounts the disk's other file systems where its `/etc/fstab` puts them (`/var`, `/opt`,
    /// `/home` on their own partitions), matched by UUID.
    fn mount_fstab(
        &mut self,
        root: &Path,
        raw: &Path,
        seen: &[(table::Partition, Content, Option<String>)],
    ) {
        let Ok(fstab) = std::fs::read_to_string(root.join("etc/fstab")) else {
            return;
        };
        for line in fstab.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [spec, dir, ..] = f[..] else { continue };
            let Some(uuid) = spec.strip_prefix("UUID=") else {
                continue;
            };
            if dir == "/" || !dir.starts_with('/') {
                continue;
            }
            let Some((p, content, _)) = seen
                .iter()
                .find(|(_, c, _)| c.uuid().is_some_and(|u| u.eq_ignore_ascii_case(uuid)))
            else {
                continue;
            };
            let fstype = if matches!(content, Content::Xfs { .. }) {
                "xfs"
            } else {
                "ext4"
            };
            let target = root.join(dir.trim_start_matches('/'));
            if !target.is_dir() {
                continue;
            }
            let mounted =
                mount::attach(raw, p.offset, p.size, &self.scratch).and_then(|(dev, _lo)| {
                    mount::mount_ro(&dev, &target, fstype)
                        .map_err(|e| DiskError::Mount(e.to_string()))
                });
            match mounted {
                Ok(()) => {
                    self.mounts.push(target);
                    self.notes.push(format!(
                        "{}: mounted at {dir} as the disk's /etc/fstab says",
                        partition_label(p)
                    ));
                }
                Err(e) => self.notes.push(format!(
                    "{}: /etc/fstab mounts it at {dir}, but: {e}",
                    partition_label(p)
                )),
            }
        }
    }
}

fn partition_label(p: &table::Partition) -> String {
    if p.number == 0 {
        "whole disk".to_string()
    } else {
        format!("partition {} ({})", p.number, p.kind)
    }
}

/// The one-line refusal when no partition holds a root: the first thing found that liftkit
/// cannot read is what the user must deal with.
fn no_root(file: &Path, seen: &[(table::Partition, Content, Option<String>)]) -> DiskError {
    if let Some((p, _, Some(problem))) = seen.iter().find(|(_, _, e)| e.is_some()) {
        return DiskError::Corrupt {
            file: file.to_path_buf(),
            partition: partition_label(p),
            found: problem.clone(),
        };
    }
    if let Some((p, c, _)) = seen.iter().find(|(_, c, _)| matches!(c, Content::Other(_))) {
        return DiskError::Unsupported {
            file: file.to_path_buf(),
            partition: partition_label(p),
            found: c.describe(),
        };
    }
    if let [(p, Content::Unknown, _)] = seen {
        return DiskError::Corrupt {
            file: file.to_path_buf(),
            partition: partition_label(p),
            found: "no partition table and no file system signature (corrupt, or not a disk image)"
                .into(),
        };
    }
    let found: Vec<String> = seen
        .iter()
        .map(|(p, c, _)| format!("{}: {}", partition_label(p), c.describe()))
        .collect();
    DiskError::NoRoot {
        file: file.to_path_buf(),
        found: if found.is_empty() {
            "no partitions".into()
        } else {
            found.join("; ")
        },
    }
}

fn enter_once() -> Result<(), DiskError> {
    static ENTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ENTERED
        .get_or_init(|| enter_private_namespace().map_err(|e| e.to_string()))
        .clone()
        .map_err(DiskError::Mount)
}

impl Drop for Disk {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            mount::unmount(m);
        }
        self.export.take();
        mount::unmount(&self.scratch);
        let _ = std::fs::remove_dir(&self.scratch);
    }
}

impl DiskView {
    /// Where the disk's root is mounted (in liftkit's private namespace), for what only the
    /// mount shows: extended attributes.
    pub fn local_root(&self) -> &Path {
        self.root.root()
    }

    /// The image file, canonical.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl Host for DiskView {
    fn describe(&self) -> String {
        format!("disk {}", self.what)
    }

    /// The disk file: its mounts end with the run, so a plan names the image it came from.
    fn root_label(&self) -> String {
        format!("disk:{}", self.file.display())
    }

    fn boxed(&self) -> Box<dyn Host> {
        Box::new(self.clone())
    }

    fn lstat(&self, abs: &Path) -> io::Result<Metadata> {
        self.root.lstat(abs)
    }

    fn read_link(&self, abs: &Path) -> io::Result<PathBuf> {
        self.root.read_link(abs)
    }

    fn list(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        self.root.list(abs)
    }

    fn open_resolved(&self, abs: &Path) -> io::Result<File> {
        self.root.open_resolved(abs)
    }
}
