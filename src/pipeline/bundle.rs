//! `collect --bundle`: the files a plan needs, copied beside the snapshot as a root directory, so
//! analysis and build can run on another machine and give the same image as on the source.
//!
//! The bundle holds what the plan's images hold (links, directories, owners, modes and mtimes
//! kept), the populated volumes' data, and what analysis itself reads: the loader's cache and
//! configuration and dpkg's file lists for the packages involved.

use super::{io_err, PipelineError};
use crate::build::layout;
use crate::build::oci::{EntryKind, Source};
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{Plan, VolumeKind};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What analysis reads besides the plan's own files.
const ANALYSIS_INPUTS: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d/**",
    "/etc/ld.so.preload",
    "/etc/nsswitch.conf",
    "/etc/os-release",
];

/// A bundle written beside its snapshot.
#[derive(Debug)]
pub struct Bundled {
    /// Its directory name, relative to the snapshot file (what `snapshot.bundle` records).
    pub name: String,
    pub dir: PathBuf,
    pub apps: Vec<String>,
    /// The first pid of each application bundled.
    pub pids: Vec<i32>,
    pub findings: Vec<Finding>,
}

/// Writes `<snapshot stem>.bundle/` beside `snapshot_file`: whole, or not at all (it is staged
/// under a hidden name and renamed into place).
pub fn write(plan: &Plan, snapshot_file: &Path) -> Result<Bundled, PipelineError> {
    let host = crate::host::live();
    let name = format!(
        "{}.bundle",
        snapshot_file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
    );
    let dir = snapshot_file.with_file_name(&name);
    let partial = snapshot_file.with_file_name(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let findings = match write_files(plan, &host, &partial) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(io_err(&partial, "cannot write the bundle")(e));
        }
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err(&dir, "cannot replace"))?;
    }
    std::fs::rename(&partial, &dir).map_err(io_err(&dir, "cannot write"))?;
    Ok(Bundled {
        name,
        dir,
        apps: plan.apps.iter().map(|a| a.name.clone()).collect(),
        pids: plan
            .apps
            .iter()
            .filter_map(|a| a.processes.first().map(|p| p.pid))
            .collect(),
        findings,
    })
}

fn write_files(plan: &Plan, host: &dyn Host, dir: &Path) -> io::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    std::fs::create_dir_all(dir)?;
    // The bundle may hold secrets and data: for the operator's eyes only.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let mut extra: Vec<String> = Vec::new();
    for pattern in ANALYSIS_INPUTS {
        extra.extend(
            crate::analyze::glob::expand(host, pattern)
                .into_iter()
                .map(|p| p.to_string_lossy().into_owned()),
        );
    }
    let packages: std::collections::BTreeSet<&str> = plan
        .apps
        .iter()
        .flat_map(|a| a.files.iter().filter_map(|f| f.package.as_deref()))
        .collect();
    for pkg in packages {
        for name in [format!("{pkg}.list"), format!("{pkg}:amd64.list")] {
            let path = format!("/var/lib/dpkg/info/{name}");
            if host.exists(Path::new(&path)) {
                extra.push(path);
            }
        }
    }
    let layouts = plan
        .apps
        .iter()
        .map(|app| layout::layout(app, host, true))
        .chain(std::iter::once(layout::paths(&extra, host)));
    for layout in layouts {
        findings.extend(layout.findings);
        for e in layout.entries {
            materialize(host, dir, &e, &mut findings)?;
        }
    }
    for app in &plan.apps {
        for v in app
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeKind::Volume && v.populate)
        {
            copy_volume(host, dir, Path::new(&v.path), &mut findings)?;
        }
    }
    Ok(findings)
}

fn inside(dir: &Path, abs: &Path) -> PathBuf {
    dir.join(abs.strip_prefix("/").unwrap_or(abs))
}

fn materialize(
    host: &dyn Host,
    dir: &Path,
    e: &crate::build::oci::Entry,
    findings: &mut Vec<Finding>,
) -> io::Result<()> {
    let target = inside(dir, &e.path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match &e.kind {
        EntryKind::Dir => {
            std::fs::create_dir_all(&target)?;
        }
        EntryKind::File(Source::Host(src)) => {
            let mut from = match host.open_resolved(src) {
                Ok(f) => f,
                Err(err) => {
                    findings.push(Finding::warning(
                        e.path.to_string_lossy(),
                        format!("not bundled: {err}"),
                    ));
                    return Ok(());
                }
            };
            let size = from.metadata()?.len();
            let mut to = std::fs::File::create(&target)?;
            crate::build::sparse::copy(&mut from, &mut to, size)?;
        }
        // Generated files are made again from the snapshot by analysis: nothing to carry.
        EntryKind::File(Source::Bytes(_)) => return Ok(()),
        EntryKind::Symlink(link) => {
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target)?;
        }
        EntryKind::Hardlink(first) => {
            let _ = std::fs::remove_file(&target);
            std::fs::hard_link(inside(dir, first), &target)?;
            return Ok(());
        }
    }
    keep_metadata(
        host,
        &e.path,
        &target,
        e.uid,
        e.gid,
        e.mode,
        !matches!(e.kind, EntryKind::Symlink(_)),
    );
    Ok(())
}

/// Owner, mode and modification time as on the source, so a build from the bundle gives the
/// image a build on the source gives.
fn keep_metadata(
    host: &dyn Host,
    source: &Path,
    target: &Path,
    uid: u32,
    gid: u32,
    mode: u32,
    chmod: bool,
) {
    let _ = std::os::unix::fs::lchown(target, Some(uid), Some(gid));
    if chmod {
        let _ = std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode));
    }
    if let Ok(meta) = host.lstat(source) {
        set_mtime(target, meta.mtime(), meta.mtime_nsec());
    }
}

fn set_mtime(path: &Path, secs: i64, nsec: i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: secs,
            tv_nsec: nsec,
        },
    ];
    // SAFETY: `c` is a valid NUL-terminated path and `times` has the two entries utimensat reads.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
}

fn copy_volume(
    host: &dyn Host,
    dir: &Path,
    volume: &Path,
    findings: &mut Vec<Finding>,
) -> io::Result<()> {
    let Ok(real) = host.real_path(volume) else {
        return Ok(());
    };
    let target = inside(dir, &real);
    std::fs::create_dir_all(&target)?;
    crate::build::volumes::copy_tree(host, &real, &target, findings)?;
    Ok(())
}
