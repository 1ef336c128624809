//! Where a read-only app writes: every place it writes must be a volume (kept) or a tmpfs (not
//! kept), each with its reason. The analysis gives a tmpfs to the run-time directories its
//! analyzer or unit names; the trial run proposes one for each path it saw refused by the
//! read-only root; the build warns about a place the app writes that the plan left on it.

use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Volume, VolumeKind, Write};
use std::collections::BTreeMap;
use std::path::Path;

/// The `populate_with` strategy of a volume seeded with the image's own files under it: a
/// directory that holds the app's files *and* what it writes (a pid file beside its config).
pub const SEED_FROM_IMAGE: &str = "image";

/// Paths the engine provides writable, or that are never the app's: writes there need no place.
const ENGINE_PATHS: &[&str] = &[
    "/dev",
    "/proc",
    "/sys",
    "/.liftkit",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/run/.containerenv",
    "/run/secrets",
];

/// Directories a volume or tmpfs must never cover: they hold the system the app runs on.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/opt",
    "/root",
    "/sbin",
    "/srv",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/lib",
    "/var/log",
];

/// A directory holding the system the app runs on, which no volume or tmpfs may cover.
pub fn system_dir(dir: &str) -> bool {
    SYSTEM_DIRS.contains(&dir)
}

/// A directory many programs share (the system's, or the common scratch roots): what another
/// program keeps in it says nothing about this app.
pub fn shared_dir(dir: &str) -> bool {
    system_dir(dir)
        || [
            "/run",
            "/var/run",
            "/tmp",
            "/var/tmp",
            "/var/cache",
            "/dev/shm",
        ]
        .contains(&dir)
}

/// Where programs keep what need not outlive them.
fn scratch(dir: &str) -> bool {
    ["/tmp", "/var/tmp", "/run", "/var/run", "/dev/shm"].contains(&dir)
        || ["/run/", "/var/run/", "/var/cache/", "/var/tmp/"]
            .iter()
            .any(|p| dir.starts_with(p))
        || Path::new(dir)
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                ["cache", "tmp", "temp", "run"].iter().any(|w| n == *w)
                    || n.ends_with("_temp")
                    || n.ends_with("-cache")
            })
}

/// A file whose content is the run's, not the app's state: a pid file, a lock, a socket.
fn ephemeral_file(path: &str) -> bool {
    [".pid", ".lock", ".sock", ".socket", ".tmp"]
        .iter()
        .any(|s| path.ends_with(s))
}

/// Whether `path` is `dir` or inside it.
pub fn under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The volume or tmpfs holding `path`, if any (the deepest).
pub fn placement<'a>(app: &'a AppPlan, path: &str) -> Option<&'a Volume> {
    app.volumes
        .iter()
        .filter(|v| under(path, &v.path))
        .max_by_key(|v| v.path.len())
}

/// Whether the image's own files at `path` are what the app sees there: no volume or tmpfs
/// covers it, or the one that does is seeded with the image's files (the trial run adds a
/// missing file there as anywhere in the image; a volume copied from the host holds its own).
pub fn shows_image_files(app: &AppPlan, path: &str) -> bool {
    app.volumes
        .iter()
        .filter(|v| under(path, &v.path) && path != v.path)
        .max_by_key(|v| v.path.len())
        .is_none_or(|v| v.populate_with.as_deref() == Some(SEED_FROM_IMAGE))
}

/// Whether a write to `path` needs no volume: the engine's paths, a plan link (a log sent to
/// /dev/stdout), or inside a volume or tmpfs.
pub fn placed(app: &AppPlan, path: &str) -> bool {
    ENGINE_PATHS.iter().any(|e| under(path, e))
        || app.links.iter().any(|l| l.path == path)
        || placement(app, path).is_some()
}

/// Whether the image holds anything strictly below `dir`.
pub fn image_has_below(app: &AppPlan, dir: &str) -> bool {
    let below = |p: &str| p != dir && under(p, dir);
    app.files.iter().any(|f| below(&f.path))
        || app.links.iter().any(|l| below(&l.path))
        || app.generated.iter().any(|g| below(&g.path))
        || app.dirs.iter().any(|d| below(&d.path))
}

/// Run-time directories the analysis knows the app writes (its analyzer's `dirs`, a unit's
/// `RuntimeDirectory=`/`LogsDirectory=`, a vendor tree's log directory) and that hold nothing
/// of the image: each gets a tmpfs. A directory holding image files is left for the trial run
/// to judge (a tmpfs would hide them).
pub fn run_time_tmpfs(app: &mut AppPlan) {
    let mut add = Vec::new();
    for d in &app.dirs {
        let known = !(d.why.starts_with("working directory") || d.why.starts_with("holds "));
        if !known
            || system_dir(&d.path)
            || placement(app, &d.path).is_some()
            || image_has_below(app, &d.path)
        {
            continue;
        }
        add.push(Volume {
            path: d.path.clone(),
            kind: VolumeKind::Tmpfs,
            populate: false,
            populate_with: None,
            live_writes: None,
            scratch: false,
            why: format!(
                "a directory the app writes at run time ({}), empty in the image: tmpfs, not kept",
                d.why
            ),
        });
    }
    app.volumes.extend(add);
    app.volumes.sort_by(|a, b| a.path.cmp(&b.path));
    app.volumes.dedup_by(|a, b| a.path == b.path);
}

/// The places the plan says the app writes (its volumes and tmpfs, with their reasons), the
/// start of `hardening.writes`: the build warns when one of them is later left on the root.
pub fn declared_writes(app: &AppPlan) -> Vec<Write> {
    app.volumes
        .iter()
        .map(|v| Write {
            path: v.path.clone(),
            why: v.why.clone(),
            tolerated: false,
        })
        .collect()
}

/// A volume or tmpfs for a write the read-only root refused (`call` on `path`), or why none
/// can be proposed.
pub fn propose(app: &AppPlan, host: &dyn Host, path: &str, call: &str) -> Result<Volume, String> {
    let dir = Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".to_string());
    if let Some(v) = placement(app, &dir) {
        return Err(format!("{} is already a {:?}", v.path, v.kind).to_lowercase());
    }
    if system_dir(&dir) {
        return Err(format!(
            "its directory {dir} is a system directory a volume must not cover: point the app \
             at a directory of its own for it"
        ));
    }
    let seen =
        format!("the app's {call} of {path} was refused by the read-only root in its trial run");
    if image_has_below(app, &dir) {
        // A pid file or lock beside the app's files: nothing there outlives the run.
        let run_time = ephemeral_file(path);
        return Ok(Volume {
            path: dir.clone(),
            kind: VolumeKind::Volume,
            populate: true,
            populate_with: Some(SEED_FROM_IMAGE.to_string()),
            live_writes: None,
            scratch: run_time,
            why: format!(
                "{seen}; {dir} also holds the app's own files, so it is a volume seeded with the \
                 image's files there (a tmpfs would hide them){}",
                if run_time {
                    "; what the app writes there is run-time only, so the volume need not be kept"
                } else {
                    ""
                }
            ),
        });
    }
    if scratch(&dir) || ephemeral_file(path) {
        return Ok(Volume {
            path: dir,
            kind: VolumeKind::Tmpfs,
            populate: false,
            populate_with: None,
            live_writes: None,
            scratch: false,
            why: format!("{seen}; run-time files: tmpfs, not kept"),
        });
    }
    let on_source = host.stat(Path::new(&dir)).is_ok_and(|m| m.is_dir());
    Ok(Volume {
        path: dir,
        kind: VolumeKind::Volume,
        populate: on_source,
        populate_with: None,
        live_writes: None,
        scratch: false,
        why: format!(
            "{seen}; it may be state, so it is kept{}",
            if on_source {
                ", copied from the host"
            } else {
                ""
            }
        ),
    })
}

/// A volume taken as scratch (its first refused write was a pid file) is kept after all when
/// the trial saw the app write anything else there: that may be state.
pub fn keep_scratch_holding_state<'a>(app: &mut AppPlan, written: impl Iterator<Item = &'a str>) {
    // A log beside the pages is the run's record, not the app's state (and most are links to
    // the engine's log already).
    let written: Vec<&str> = written
        .filter(|p| !p.ends_with(".log") && !app.links.iter().any(|l| l.path == *p))
        .collect();
    for v in app.volumes.iter_mut().filter(|v| v.scratch) {
        if let Some(state) = written
            .iter()
            .find(|p| under(p, &v.path) && **p != v.path && !ephemeral_file(p))
        {
            v.scratch = false;
            v.why = format!(
                "{}; kept after all: its trial run also wrote {state}, which may be state",
                v.why
            );
        }
    }
}

/// Where a trial run saw the app write, collapsed to the volume or tmpfs holding each path (a
/// database writes hundreds of files in its one data directory), plus any write outside them.
pub fn observed_writes<'a>(
    app: &AppPlan,
    written: impl Iterator<Item = &'a str>,
    refused: impl Iterator<Item = &'a str>,
    answered: bool,
) -> Vec<Write> {
    let mut by_place: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut outside: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for path in written {
        if ENGINE_PATHS.iter().any(|e| under(path, e)) || app.links.iter().any(|l| l.path == path) {
            continue;
        }
        match placement(app, path) {
            Some(v) => {
                let e = by_place
                    .entry(v.path.clone())
                    .or_insert_with(|| (0, path.to_string()));
                e.0 += 1;
            }
            None => {
                outside.insert(
                    path.to_string(),
                    ("written in its trial run".to_string(), false),
                );
            }
        }
    }
    for path in refused {
        if path.contains("/__pycache__/") {
            continue;
        }
        if !placed(app, path) {
            let why = if answered {
                "its write was refused by the read-only root in its trial run, and it answered as the original without it"
            } else {
                "its write was refused by the read-only root in its trial run"
            };
            outside.insert(path.to_string(), (why.to_string(), answered));
        }
    }
    let mut out: Vec<Write> = by_place
        .into_iter()
        .map(|(place, (n, example))| Write {
            why: if n == 1 {
                format!("written in its trial run ({example})")
            } else {
                format!("written in its trial run ({n} paths, e.g. {example})")
            },
            path: place,
            tolerated: false,
        })
        .chain(outside.into_iter().map(|(path, (why, tolerated))| Write {
            path,
            why,
            tolerated,
        }))
        .collect();
    out.sort();
    out
}

/// Places the app writes that the plan leaves on the read-only root: a warning each, naming
/// the path (a plan edited to drop a tmpfs or volume it needs).
pub fn unplaced(app: &AppPlan) -> Vec<Finding> {
    if !app.hardening.read_only {
        return Vec::new();
    }
    app.hardening
        .writes
        .iter()
        .filter(|w| !placed(app, &w.path))
        .map(|w| {
            if w.tolerated {
                return Finding::info(
                    &w.path,
                    format!(
                        "the app tries to write here ({}): it is on the read-only root, so the write fails; add a volume or tmpfs to the plan if the file matters",
                        w.why
                    ),
                );
            }
            Finding::warning(
                &w.path,
                format!(
                    "the app writes here ({}), but no volume or tmpfs of the plan holds it: it is \
                     on the read-only root, where the write fails (add it to the plan's volumes, \
                     or set hardening.read_only: false)",
                    w.why
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{DirEntry, FileEntry, Role};

    fn app() -> AppPlan {
        let yaml = include_str!("../../samples/nginx/plan.golden.yaml");
        let mut plan = crate::plan::parse(Path::new("plan.yaml"), yaml).unwrap();
        let mut app = plan.apps.remove(0);
        app.volumes.clear();
        app.dirs = vec![
            DirEntry {
                path: "/run".into(),
                why: "analyzer nginx: must exist".into(),
            },
            DirEntry {
                path: "/var/log/nginx".into(),
                why: "analyzer nginx: must exist".into(),
            },
            DirEntry {
                path: "/srv/app".into(),
                why: "working directory of pid 1".into(),
            },
        ];
        app.files.push(FileEntry {
            path: "/srv/app/app.conf".into(),
            role: Role::Config,
            why: vec!["test".into()],
            package: None,
            confidence: Default::default(),
        });
        app.links.push(crate::plan::Link {
            path: "/var/log/nginx/error.log".into(),
            target: "/dev/stderr".into(),
            why: "test".into(),
        });
        app
    }

    #[test]
    fn run_time_directories_empty_in_the_image_become_tmpfs() {
        let mut a = app();
        run_time_tmpfs(&mut a);
        let paths: Vec<&str> = a.volumes.iter().map(|v| v.path.as_str()).collect();
        // /var/log/nginx holds the log links (a tmpfs would hide them); the working directory
        // is not a place the analysis knows is written.
        assert_eq!(paths, ["/run"]);
        assert_eq!(a.volumes[0].kind, VolumeKind::Tmpfs);
        assert!(a.volumes[0].why.contains("analyzer nginx"));
    }

    #[test]
    fn a_refused_write_gets_a_tmpfs_or_a_volume_by_what_its_directory_holds() {
        let a = app();
        let host = crate::host::NoFiles;
        let pid = propose(&a, &host, "/run/app/app.pid", "openat").unwrap();
        assert_eq!(
            (pid.path.as_str(), pid.kind),
            ("/run/app", VolumeKind::Tmpfs)
        );
        let beside_config = propose(&a, &host, "/srv/app/app.pid", "openat").unwrap();
        assert_eq!(beside_config.kind, VolumeKind::Volume);
        assert_eq!(
            beside_config.populate_with.as_deref(),
            Some(SEED_FROM_IMAGE)
        );
        let state = propose(&a, &host, "/data/app/state.db", "openat").unwrap();
        assert_eq!((state.kind, state.populate), (VolumeKind::Volume, false));
        assert!(propose(&a, &host, "/etc/app.state", "openat")
            .unwrap_err()
            .contains("system directory"));
    }

    #[test]
    fn writes_collapse_to_their_place_and_unplaced_ones_warn() {
        let mut a = app();
        run_time_tmpfs(&mut a);
        a.hardening = crate::plan::Hardening::hardened();
        let written = [
            "/run/a.pid",
            "/run/b.sock",
            "/var/log/nginx/error.log",
            "/dev/null",
        ];
        a.hardening.writes = observed_writes(
            &a,
            written.into_iter(),
            ["/srv/app/x.pid"].into_iter(),
            false,
        );
        let paths: Vec<&str> = a.hardening.writes.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["/run", "/srv/app/x.pid"]);
        assert!(a.hardening.writes[0].why.contains("2 paths"));
        let warned: Vec<String> = unplaced(&a).into_iter().map(|f| f.subject).collect();
        assert_eq!(warned, ["/srv/app/x.pid"]);
        a.volumes.clear();
        assert_eq!(unplaced(&a).len(), 2, "dropping the /run tmpfs warns too");
    }
}
