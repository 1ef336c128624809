//! Volumes populated from the host's data: copied under `out/<app>/volumes/<name>/` with owners
//! and modes kept, so the lifted app starts on the data the original had.

use crate::findings::Finding;
use crate::host::{open_noatime, Host};
use crate::plan::{volume_name, AppPlan, Volume, VolumeKind};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Copies every volume marked `populate`; returns bytes copied and what could not be.
pub fn populate(app: &AppPlan, host: &Host, dest_root: &Path) -> io::Result<(u64, Vec<Finding>)> {
    let mut findings = Vec::new();
    let mut bytes = 0;
    for v in app.volumes.iter().filter(|v| v.kind == VolumeKind::Volume) {
        let dest = dest_root.join(volume_name(&v.path));
        std::fs::create_dir_all(&dest)?;
        if !v.populate {
            continue;
        }
        let Ok(real) = host.real_path(Path::new(&v.path)) else {
            findings.push(Finding::warning(
                &v.path,
                "volume to populate does not exist on the source; it starts empty",
            ));
            continue;
        };
        if let Some(strategy) = v.populate_with.as_deref() {
            if let Some(n) = populate_with(strategy, app, v, host, &dest, &mut findings)? {
                bytes += n;
                continue;
            }
        }
        bytes += copy_tree(&host.outside(&real), &dest, &mut findings)?;
        findings.push(Finding::info(
            &v.path,
            "copied from the running source: writes the application had not yet flushed to disk \
             are not in the copy (quiesce or save it first for a consistent copy)",
        ));
    }
    Ok((bytes, findings))
}

/// A volume filled by a named strategy rather than a copy; `None`: copy it after all.
fn populate_with(
    strategy: &str,
    app: &AppPlan,
    v: &Volume,
    host: &Host,
    dest: &Path,
    findings: &mut Vec<Finding>,
) -> io::Result<Option<u64>> {
    match strategy {
        super::pg_basebackup::STRATEGY => {
            super::pg_basebackup::populate(app, v, host, dest, findings)
        }
        other => {
            findings.push(Finding::warning(
                &v.path,
                format!("unknown populate_with strategy {other:?}: the files are copied"),
            ));
            Ok(None)
        }
    }
}

pub(super) fn copy_tree(src: &Path, dest: &Path, findings: &mut Vec<Finding>) -> io::Result<u64> {
    let mut bytes = 0;
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                findings.push(Finding::warning(
                    src.to_string_lossy(),
                    format!("not copied: {e}"),
                ));
                continue;
            }
        };
        let rel = entry.path().strip_prefix(src).unwrap_or(Path::new(""));
        let target = dest.join(rel);
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue; // vanished while copying
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if ft.is_symlink() {
            let link = std::fs::read_link(entry.path())?;
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target)?;
        } else if ft.is_file() {
            match open_noatime(entry.path()) {
                Ok(mut f) => {
                    let mut out = std::fs::File::create(&target)?;
                    bytes += io::copy(&mut f, &mut out)?;
                }
                Err(e) => {
                    findings.push(Finding::warning(
                        entry.path().to_string_lossy(),
                        format!("not copied: {e}"),
                    ));
                    continue;
                }
            }
        } else {
            findings.push(Finding::info(
                entry.path().to_string_lossy(),
                "special file not copied into the volume",
            ));
            continue;
        }
        // Owners matter: PostgreSQL and redis refuse data they do not own.
        if std::os::unix::fs::lchown(&target, Some(meta.uid()), Some(meta.gid())).is_err() {
            findings.push(Finding::warning(
                target.to_string_lossy(),
                "owner not kept (run as root to keep owners)",
            ));
        }
        if !ft.is_symlink() {
            std::fs::set_permissions(
                &target,
                std::fs::Permissions::from_mode(meta.mode() & 0o7777),
            )?;
        }
    }
    Ok(bytes)
}
