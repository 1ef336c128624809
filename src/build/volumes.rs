//! Volumes populated from the host's data: copied under `out/<app>/volumes/<name>/` with owners
//! and modes kept, so the lifted app starts on the data the original had.

use crate::analyze::exclude::Excludes;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{volume_name, AppPlan, Volume, VolumeKind};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// `volumes/`: one directory per volume, populated from the host where the plan says so.
pub fn write(cx: &super::Context, record: &mut super::AppBuild) -> Result<(), super::BuildError> {
    let exclude =
        Excludes::from_rules(cx.plan.exclude.clone()).map_err(|e| super::BuildError::Encode {
            app: cx.app.name.clone(),
            artifact: "volumes/",
            message: format!("the plan's exclude rules: {e}"),
        })?;
    let (bytes, findings) =
        populate(cx.app, cx.host, &exclude, &cx.dir.join("volumes")).map_err(cx.io("volumes"))?;
    record.volume_bytes = bytes;
    record.findings.extend(findings);
    Ok(())
}

/// Copies every volume marked `populate`; returns bytes copied and what could not be.
pub fn populate(
    app: &AppPlan,
    host: &dyn Host,
    exclude: &Excludes,
    dest_root: &Path,
) -> io::Result<(u64, Vec<Finding>)> {
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
        // The plan's exclude rules, matched against the path the app knows the data by.
        let keep = |rel: &Path, is_dir: bool| {
            let path = Path::new(&v.path).join(rel);
            exclude.rule_for(&path.to_string_lossy(), is_dir).is_none()
        };
        bytes += copy_tree(host, &real, &dest, &keep, &mut findings)?;
        findings.push(Finding::info(
            &v.path,
            "copied from the running source: writes the application had not yet flushed to disk \
             are not in the copy (quiesce or save it first for a consistent copy)",
        ));
    }
    Ok((bytes, findings))
}

/// A volume filled by a strategy of the registry rather than a copy; `None`: copy it after all.
/// Plans are checked against the registry when they load; one made in memory with a name it
/// does not know is copied, and said so.
fn populate_with(
    strategy: &str,
    app: &AppPlan,
    v: &Volume,
    host: &dyn Host,
    dest: &Path,
    findings: &mut Vec<Finding>,
) -> io::Result<Option<u64>> {
    match crate::registry::strategy(strategy) {
        Some(s) => (s.populate)(app, v, host, dest, findings),
        None => {
            findings.push(Finding::warning(
                &v.path,
                format!(
                    "{}: the files are copied",
                    crate::registry::unknown(crate::registry::Kind::Strategy, strategy)
                ),
            ));
            Ok(None)
        }
    }
}

/// Copies the host's tree at `src` (resolved, in-host) into `dest` on this machine.
pub(crate) fn copy_tree(
    host: &dyn Host,
    src: &Path,
    dest: &Path,
    keep: &dyn Fn(&Path, bool) -> bool,
    findings: &mut Vec<Finding>,
) -> io::Result<u64> {
    let mut bytes = 0;
    let mut failure = None;
    let mut unlisted = Vec::new();
    host.walk(
        src,
        usize::MAX,
        &mut |entry| {
            let rel = entry.path.strip_prefix(src).unwrap_or(Path::new(""));
            if !rel.as_os_str().is_empty() && !keep(rel, entry.file_type.is_dir()) {
                return true;
            }
            match copy_entry(host, &entry.path, &dest.join(rel), findings) {
                Ok(n) => bytes += n,
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        },
        &mut |path, e| {
            unlisted.push(Finding::warning(
                path.to_string_lossy(),
                format!("not copied: {e}"),
            ))
        },
    );
    findings.extend(unlisted);
    match failure {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

/// Copies one entry with its owner and mode. Errors returned are the output's (it cannot be
/// written); what the source does (vanish, refuse, hold a special file) becomes a finding.
fn copy_entry(
    host: &dyn Host,
    source: &Path,
    target: &Path,
    findings: &mut Vec<Finding>,
) -> io::Result<u64> {
    let note = |findings: &mut Vec<Finding>, why: String| {
        findings.push(Finding::warning(source.to_string_lossy(), why));
    };
    let Ok(meta) = host.lstat(source) else {
        return Ok(0); // vanished while copying
    };
    let ft = meta.file_type();
    let mut bytes = 0;
    if ft.is_dir() {
        std::fs::create_dir_all(target)?;
    } else if ft.is_symlink() {
        let link = match host.read_link(source) {
            Ok(l) => l,
            Err(e) => {
                note(findings, format!("not copied: {e}"));
                return Ok(0);
            }
        };
        let _ = std::fs::remove_file(target);
        std::os::unix::fs::symlink(link, target)?;
    } else if ft.is_file() {
        match host.open_resolved(source) {
            Ok(mut f) => {
                let size = f.metadata()?.len();
                let mut out = std::fs::File::create(target)?;
                bytes = super::sparse::copy(&mut f, &mut out, size)?;
            }
            Err(e) => {
                note(findings, format!("not copied: {e}"));
                return Ok(0);
            }
        }
    } else {
        findings.push(Finding::info(
            source.to_string_lossy(),
            "special file not copied into the volume",
        ));
        return Ok(0);
    }
    // Owners matter: PostgreSQL and redis refuse data they do not own.
    if std::os::unix::fs::lchown(target, Some(meta.uid()), Some(meta.gid())).is_err() {
        findings.push(Finding::warning(
            target.to_string_lossy(),
            "owner not kept (run as root to keep owners)",
        ));
    }
    if !ft.is_symlink() {
        std::fs::set_permissions(
            target,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )?;
    }
    Ok(bytes)
}
