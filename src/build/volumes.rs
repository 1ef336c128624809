//! Volumes populated from the host's data: copied under `out/<app>/volumes/<name>/` with owners
//! and modes kept, so the lifted app starts on the data the original had.

use crate::analyze::exclude::Excludes;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{volume_name, AppPlan, Volume, VolumeKind};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Changed files named in a finding before "…".
const CHANGES_SHOWN: usize = 5;

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
            // Empty, but with the owner and mode the directory has on the host: an app running
            // as its own user writes there as it did (root's 0755 would refuse it).
            if let Ok(meta) = host.stat(Path::new(&v.path)) {
                if meta.is_dir() {
                    let _ = std::os::unix::fs::lchown(&dest, Some(meta.uid()), Some(meta.gid()));
                    std::fs::set_permissions(
                        &dest,
                        std::fs::Permissions::from_mode(meta.mode() & 0o7777),
                    )?;
                }
            }
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
        let before = fingerprint(host, &real, &keep);
        bytes += copy_tree(host, &real, &dest, &keep, &mut findings)?;
        let changed = changes(&before, &fingerprint(host, &real, &keep));
        findings.push(consistency(v, &real, &changed));
    }
    Ok((bytes, findings))
}

/// Size and modification time of every file under `top`, to tell whether it changed while it
/// was copied.
fn fingerprint(
    host: &dyn Host,
    top: &Path,
    keep: &dyn Fn(&Path, bool) -> bool,
) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut outputs: Vec<PathBuf> = Vec::new();
    host.walk(
        top,
        usize::MAX,
        &mut |entry| {
            if outputs.iter().any(|o| entry.path.starts_with(o)) {
                return true;
            }
            if entry.file_type.is_dir() && entry.path != top && is_liftkit_output(host, &entry.path)
            {
                outputs.push(entry.path);
                return true;
            }
            let rel = entry.path.strip_prefix(top).unwrap_or(Path::new(""));
            if entry.file_type.is_file() && keep(rel, false) {
                if let Ok(m) = host.lstat(&entry.path) {
                    out.insert(entry.path, (m.len(), m.mtime(), m.mtime_nsec()));
                }
            }
            true
        },
        &mut |_, _| {},
    );
    out
}

/// Files written, created or removed between two fingerprints.
fn changes(
    before: &BTreeMap<PathBuf, (u64, i64, i64)>,
    after: &BTreeMap<PathBuf, (u64, i64, i64)>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = before
        .iter()
        .filter(|(p, f)| after.get(*p) != Some(f))
        .map(|(p, _)| p.clone())
        .collect();
    out.extend(after.keys().filter(|p| !before.contains_key(*p)).cloned());
    out.sort();
    out
}

/// What the copy of a live application's state is worth, and what the user can do about it.
fn consistency(v: &Volume, real: &Path, changed: &[PathBuf]) -> Finding {
    let advice = v.live_writes.clone().unwrap_or_else(|| {
        "stop the application before build, or build from a filesystem snapshot of the host \
         given with --root"
            .to_string()
    });
    if changed.is_empty() {
        return Finding::info(
            &v.path,
            "copied from the running source; no file changed during the copy, but writes the \
             application had not yet flushed to disk are not in it (quiesce or save it first \
             for a consistent copy)",
        );
    }
    let mut shown: Vec<String> = changed
        .iter()
        .take(CHANGES_SHOWN)
        .map(|p| p.strip_prefix(real).unwrap_or(p).display().to_string())
        .collect();
    if changed.len() > CHANGES_SHOWN {
        shown.push("…".to_string());
    }
    Finding::warning(
        &v.path,
        format!(
            "{} file(s) changed while the volume was copied ({}): the copy is not consistent. {advice}",
            changed.len(),
            shown.join(", ")
        ),
    )
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

/// A volume over a directory that holds the app's own files and what it writes (a pid file
/// beside its config): it starts with exactly the image's entries under it, owners and modes
/// kept, so the mount hides nothing the app reads.
/// The registry's `image` strategy: a volume over a directory the image also holds (the trial
/// saw the app write there) starts with the image's files.
pub(crate) fn seed_strategy(
    app: &AppPlan,
    v: &Volume,
    host: &dyn Host,
    dest: &Path,
    _: &mut Vec<Finding>,
) -> io::Result<Option<u64>> {
    seed_from_image(app, v, host, dest).map(Some)
}

fn seed_from_image(app: &AppPlan, v: &Volume, host: &dyn Host, dest: &Path) -> io::Result<u64> {
    use super::oci::{EntryKind, Source};
    let root = Path::new(&v.path);
    let layout = super::layout::layout(app, host, false);
    let mut bytes = 0;
    for e in &layout.entries {
        let Ok(rel) = e.path.strip_prefix(root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match &e.kind {
            EntryKind::Dir => std::fs::create_dir_all(&target)?,
            EntryKind::File(Source::Host(p)) => {
                let mut f = host.open_resolved(p)?;
                let size = f.metadata()?.len();
                let mut out = std::fs::File::create(&target)?;
                bytes += super::sparse::copy(&mut f, &mut out, size)?;
            }
            EntryKind::File(Source::Bytes(b)) => {
                std::fs::write(&target, b)?;
                bytes += b.len() as u64;
            }
            EntryKind::Symlink(to) => {
                let _ = std::fs::remove_file(&target);
                std::os::unix::fs::symlink(to, &target)?;
            }
            EntryKind::Hardlink(other) => {
                let Ok(first) = other.strip_prefix(root) else {
                    continue;
                };
                let _ = std::fs::remove_file(&target);
                std::fs::hard_link(dest.join(first), &target)?;
            }
        }
        let _ = std::os::unix::fs::lchown(&target, Some(e.uid), Some(e.gid));
        if !matches!(e.kind, EntryKind::Symlink(_)) {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(e.mode & 0o7777))?;
        }
    }
    // The directory itself as the image has it.
    if let Some(e) = layout.entries.iter().find(|e| e.path == root) {
        let _ = std::os::unix::fs::lchown(dest, Some(e.uid), Some(e.gid));
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(e.mode & 0o7777))?;
    }
    Ok(bytes)
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
    // liftkit's own output inside the directory it copies (`-o` under a data directory, or the
    // build writing into it right now) is never data: copying it would copy the copy.
    let mut outputs: Vec<PathBuf> = Vec::new();
    host.walk(
        src,
        usize::MAX,
        &mut |entry| {
            if outputs.iter().any(|o| entry.path.starts_with(o)) {
                return true;
            }
            if entry.file_type.is_dir() && entry.path != src && is_liftkit_output(host, &entry.path)
            {
                findings.push(Finding::info(
                    entry.path.to_string_lossy(),
                    "liftkit's own output: not copied into the volume",
                ));
                outputs.push(entry.path);
                return true;
            }
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

/// An output directory of liftkit: `out/` (snapshot and plan), `out/<app>/`, a staging
/// `out/.<app>.partial/`.
fn is_liftkit_output(host: &dyn Host, dir: &Path) -> bool {
    let has = |name: &str| host.lstat(&dir.join(name)).is_ok();
    dir.to_string_lossy().ends_with(".partial")
        || has("build.json")
        || (has("plan.yaml") && has("snapshot.json"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::RootDir;
    use std::ffi::OsString;
    use std::fs::{File, Metadata};

    /// A host whose application writes its journal whenever the copy reads its data file: a
    /// database at work while liftkit copies it, deterministically.
    #[derive(Debug, Clone)]
    struct Busy {
        root: RootDir,
        journal: PathBuf,
    }

    impl Host for Busy {
        fn describe(&self) -> String {
            self.root.describe()
        }
        fn root_label(&self) -> String {
            self.root.root_label()
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
            if abs.ends_with("ibdata1") {
                use std::io::Write;
                let mut j = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&self.journal)?;
                j.write_all(b"one more transaction\n")?;
            }
            self.root.open_resolved(abs)
        }
    }

    fn app_with(volume: Volume) -> AppPlan {
        let yaml = include_str!("../../samples/redis/plan.golden.yaml");
        let mut plan = crate::plan::parse(Path::new("plan.yaml"), yaml).unwrap();
        let mut app = plan.apps.remove(0);
        app.volumes = vec![volume];
        app
    }

    #[test]
    fn an_empty_volume_has_the_owner_and_mode_of_the_hosts_directory() {
        use std::os::unix::fs::MetadataExt;
        let src = tempfile::tempdir().unwrap();
        let logs = src.path().join("var/log/app");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("old.log"), "the host's, not copied").unwrap();
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o2770)).unwrap();
        // Root can give it another owner, as a host's log directory has (nobody's group).
        let owner = (65534, 65534);
        let chowned = std::os::unix::fs::lchown(&logs, Some(owner.0), Some(owner.1)).is_ok();
        let app = app_with(Volume {
            path: "/var/log/app".into(),
            kind: VolumeKind::Volume,
            populate: false,
            populate_with: None,
            why: "test".into(),
            live_writes: None,
            scratch: false,
        });
        let dest = tempfile::tempdir().unwrap();
        let host = crate::host::at(src.path());
        let (bytes, _) = populate(&app, &host, &Excludes::default(), dest.path()).unwrap();
        let made = dest.path().join(volume_name("/var/log/app"));
        let meta = std::fs::metadata(&made).unwrap();
        assert_eq!(bytes, 0);
        assert!(!made.join("old.log").exists(), "nothing copied");
        assert_eq!(meta.mode() & 0o7777, 0o2770);
        if chowned {
            assert_eq!((meta.uid(), meta.gid()), owner);
        }
    }

    #[test]
    fn liftkit_output_inside_a_volume_is_not_copied() {
        let src = tempfile::tempdir().unwrap();
        let data = src.path().join("srv/app");
        for f in [
            "db/rows",
            "out/plan.yaml",
            "out/snapshot.json",
            "out/.app.partial/volumes/x",
        ] {
            std::fs::create_dir_all(data.join(f).parent().unwrap()).unwrap();
            std::fs::write(data.join(f), "x").unwrap();
        }
        let dest = tempfile::tempdir().unwrap();
        let mut findings = Vec::new();
        copy_tree(
            &crate::host::at(src.path()),
            Path::new("/srv/app"),
            dest.path(),
            &|_, _| true,
            &mut findings,
        )
        .unwrap();
        assert!(dest.path().join("db/rows").exists());
        assert!(!dest.path().join("out").exists(), "{findings:?}");
    }

    #[test]
    fn files_changing_during_the_copy_are_reported_with_what_to_do() {
        let src = tempfile::tempdir().unwrap();
        let db = src.path().join("srv/db");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("ibdata1"), "pages").unwrap();
        std::fs::write(db.join("ib_logfile0"), "log\n").unwrap();
        let host = Busy {
            root: crate::host::at(src.path()),
            journal: db.join("ib_logfile0"),
        };
        let volume = Volume {
            path: "/srv/db".into(),
            kind: VolumeKind::Volume,
            populate: true,
            populate_with: None,
            why: "test".into(),
            live_writes: Some("pid 7 writes here as it runs: stop it first".into()),
            scratch: false,
        };
        let out = tempfile::tempdir().unwrap();
        let (_, findings) = populate(
            &app_with(volume.clone()),
            &host,
            &Default::default(),
            out.path(),
        )
        .unwrap();
        let f = findings
            .iter()
            .find(|f| f.subject == "/srv/db")
            .expect("a finding for the volume");
        assert_eq!(f.level, crate::findings::Level::Warning);
        assert!(
            f.message
                .contains("1 file(s) changed while the volume was copied (ib_logfile0)"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("stop it first"),
            "the plan's advice: {}",
            f.message
        );

        // The same data at rest: copied, and said to be copied from a running source only.
        let quiet = crate::host::at(src.path());
        let (_, findings) =
            populate(&app_with(volume), &quiet, &Default::default(), out.path()).unwrap();
        let f = findings.iter().find(|f| f.subject == "/srv/db").unwrap();
        assert_eq!(f.level, crate::findings::Level::Info, "{}", f.message);
    }
}
