//! What the sources share about paths: which places are never taken whole, what names a log, a
//! pid file or a socket, and taking a directory tree within bounds.

use super::{Found, Kind};
use crate::analyze::Inputs;
use crate::host::normalize;
use crate::plan::{Confidence, Role};
use std::path::Path;

/// Directories that hold many programs' files: a name on a command line or in a configuration
/// that resolves to one of them (`dir ./` run from `/`) is never a reason to copy it whole.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/include",
    "/usr/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    "/var/www",
];

/// Places that are the kernel's or the engine's: nothing there is copied.
const VIRTUAL: &[&str] = &["/proc", "/sys", "/dev"];

/// Places whose content is gone at every boot: named there, a file is not baked, but its
/// directory may have to exist (as a tmpfs, like the host's).
const TRANSIENT: &[&str] = &["/run", "/var/run", "/var/lock", "/dev/shm"];

/// A directory tree taken because something names it stops here: beyond, it is a finding.
pub const TREE_MAX_FILES: usize = 5_000;
pub const TREE_MAX_BYTES: u64 = 256 << 20;

pub fn is_system_dir(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    SYSTEM_DIRS.contains(&if p.is_empty() { "/" } else { p })
}

pub fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/")) || dir.is_empty()
}

pub fn is_virtual(path: &str) -> bool {
    VIRTUAL.iter().any(|v| is_within(path, v))
}

pub fn is_transient(path: &str) -> bool {
    TRANSIENT.iter().any(|v| is_within(path, v))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A log the program writes: never baked (it may be large and is the host's history).
pub fn is_log(path: &str) -> bool {
    let name = file_name(path);
    is_within(path, "/var/log")
        || name.ends_with(".log")
        || name.ends_with(".err")
        || name.contains(".log.")
}

/// A pid or lock file or a socket: made at run time; a stale copy in the image makes some
/// daemons refuse to start.
pub fn is_pid_or_lock(path: &str) -> bool {
    let name = file_name(path);
    [".pid", ".lock", ".lck", ".sock", ".socket"]
        .iter()
        .any(|e| name.ends_with(e))
        || name == "LOCK"
}

/// A file whose name says it is configuration (`.conf`, `.ini`, `.yaml`, …).
pub fn looks_like_config(path: &str) -> bool {
    let name = file_name(path);
    [
        ".conf",
        ".cnf",
        ".cfg",
        ".ini",
        ".yml",
        ".yaml",
        ".json",
        ".toml",
        ".xml",
        ".properties",
        ".lua",
        ".rc",
    ]
    .iter()
    .any(|e| name.ends_with(e))
}

/// The path a word names, taken against `base` when relative; `None` for what names no file
/// (an empty word, a URL, a glob).
pub fn absolute(word: &str, base: &str) -> Option<String> {
    let word = word.trim();
    if word.is_empty() || word.contains("://") || word.contains(['*', '?', '\0']) {
        return None;
    }
    let joined = Path::new(base).join(word);
    Some(normalize(&joined).to_string_lossy().into_owned())
}

/// A file the program writes at run time (a pid file, a socket, a log): the file is not baked
/// (a stale pid file stops some daemons from starting), its directory must exist, as a tmpfs
/// where the host has one there.
pub fn runtime_parent(inp: &Inputs, path: &str, why: &str, c: Confidence, found: &mut Found) {
    let Some(parent) = Path::new(path)
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
    else {
        return;
    };
    if !inp.host.stat(Path::new(&parent)).is_ok_and(|m| m.is_dir()) {
        return;
    }
    let why = format!("{why}: holds {path}, written at run time");
    let kind = if is_transient(&parent) && !is_system_dir(&parent) {
        Kind::Scratch
    } else {
        Kind::Dir
    };
    found.add(parent, kind, Role::State, why, c);
}

/// Why a tree was not taken.
pub enum TreeRefused {
    System,
    TooLarge { files: usize, bytes: u64 },
}

impl TreeRefused {
    pub fn describe(&self, dir: &str) -> String {
        match self {
            TreeRefused::System => format!("{dir} holds many programs' files: not taken whole"),
            TreeRefused::TooLarge { files, bytes } => format!(
                "{dir} is larger than a tree liftkit takes on its own ({files}+ files, {} MiB+): \
                 add what the application needs of it to the plan",
                bytes >> 20
            ),
        }
    }
}

/// The files (and symlinks) under `dir`, leaving out what another package installed there: a
/// directory something names is the application's, the other packages' files in it are not.
pub fn tree(inp: &Inputs, dir: &str, package: Option<&str>) -> Result<Vec<String>, TreeRefused> {
    let keep = |owner: Option<String>| owner.is_none() || owner.as_deref() == package;
    tree_where(inp, dir, &keep)
}

/// Every file under `dir`, whoever installed it: a runtime's package (a node module, a gem)
/// is needed whole, whether it came from npm or from the distribution.
pub fn tree_all(inp: &Inputs, dir: &str) -> Result<Vec<String>, TreeRefused> {
    tree_where(inp, dir, &|_| true)
}

fn tree_where(
    inp: &Inputs,
    dir: &str,
    keep: &dyn Fn(Option<String>) -> bool,
) -> Result<Vec<String>, TreeRefused> {
    if is_system_dir(dir) || is_virtual(dir) {
        return Err(TreeRefused::System);
    }
    let host = inp.host;
    let Ok(real) = host.real_path(Path::new(dir)) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    let (mut count, mut bytes) = (0usize, 0u64);
    // liftkit's own output under a directory it takes (`-d /srv/site` with `-o /srv/site/out`)
    // is never content: the walk sees a directory before what is in it.
    let mut outputs: Vec<std::path::PathBuf> = Vec::new();
    let mut visit = |entry: crate::host::Walked| {
        if outputs.iter().any(|o| entry.path.starts_with(o)) {
            return true;
        }
        if entry.file_type.is_dir() {
            if is_liftkit_output(inp, &entry.path) {
                outputs.push(entry.path);
            }
            return true;
        }
        let rel = entry.path.strip_prefix(&real).unwrap_or(&entry.path);
        let shown = Path::new(dir).join(rel).to_string_lossy().into_owned();
        if !entry.file_type.is_file() && !entry.file_type.is_symlink() {
            return true;
        }
        count += 1;
        bytes += host.lstat(&entry.path).map_or(0, |m| m.len());
        // Written by the program as it runs: not content (a stale pid file even harms).
        if is_log(&shown) || is_pid_or_lock(&shown) {
            return count <= TREE_MAX_FILES && bytes <= TREE_MAX_BYTES;
        }
        if keep(inp.packages.owner(&shown)) {
            files.push(shown);
        }
        count <= TREE_MAX_FILES && bytes <= TREE_MAX_BYTES
    };
    host.walk(&real, 32, &mut visit, &mut |_, _| {});
    if count > TREE_MAX_FILES || bytes > TREE_MAX_BYTES {
        return Err(TreeRefused::TooLarge {
            files: count,
            bytes,
        });
    }
    Ok(files)
}

/// An output directory of liftkit (`out/` with its snapshot and plan, `out/<app>/`).
fn is_liftkit_output(inp: &Inputs, dir: &Path) -> bool {
    let has = |name: &str| inp.host.lstat(&dir.join(name)).is_ok();
    (has("plan.yaml") && has("snapshot.json"))
        || has("build.json")
        || dir.to_string_lossy().ends_with(".partial")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_logs_pids_and_places() {
        assert!(is_log("/var/log/x/y") && is_log("/srv/a/app.log") && is_log("/d/h.err"));
        assert!(!is_log("/etc/logrotate.conf"));
        assert!(is_pid_or_lock("/run/a.pid") && is_pid_or_lock("/var/lib/db/LOCK"));
        assert!(is_system_dir("/usr/share/") && is_system_dir("/") && !is_system_dir("/srv/site"));
        assert!(is_within("/srv/a/b", "/srv/a") && !is_within("/srv/ab", "/srv/a"));
        assert_eq!(absolute("../x", "/srv/a").as_deref(), Some("/srv/x"));
        assert_eq!(absolute("http://x/y", "/"), None);
        assert!(is_transient("/run/x.sock") && !is_transient("/srv/run"));
        assert!(
            !is_transient("/tmp/site/x.conf"),
            "tests and some hosts keep files there"
        );
    }

    #[test]
    fn a_tree_leaves_out_liftkit_outputs_inside_it() {
        let fx = super::super::testing::Fixture::new();
        fx.write("/srv/site/conf/a.conf", "x")
            .write("/srv/site/out/plan.yaml", "x")
            .write("/srv/site/out/snapshot.json", "{}")
            .write("/srv/site/out/app/image.tar", "big")
            .write("/srv/site/logs/error.log", "")
            .write("/srv/site/run/site.pid", "1");
        let p = super::super::testing::process("/usr/bin/x", &["x", "/srv/site"], "/");
        let found = fx.run(super::super::cmdline::paths, p, &[]);
        let paths: Vec<&str> = found.evidence.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/srv/site/conf/a.conf"]);
    }
}
