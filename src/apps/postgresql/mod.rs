//! PostgreSQL, the Rust half (the data half is `analyzers/postgresql.toml`: detection, variables,
//! files, modules, probes, and the data directory's `pg_basebackup` strategy):
//!
//! - `hook` (below): the socket directories, which may be named only by the running server's
//!   `postmaster.pid`, and `log_directory`/`stats_temp_directory`, which are inside the data
//!   directory when relative and must exist when absolute;
//! - `conf`: the postgresql.conf grammar;
//! - `basebackup`: the strategy that fills the data directory with a base backup of the running
//!   server rather than a copy of its files (a running server's files are not a consistent copy).

pub mod basebackup;
pub mod conf;

use crate::analyze::draft::Draft;
use crate::analyze::hooks::HookContext;
use crate::host::normalize;
use std::path::Path;

pub fn hook(cx: &HookContext, d: &mut Draft) {
    let datadir = d
        .vars
        .first("datadir")
        .map(|dir| absolute(dir, d.vars.first("cwd").unwrap_or("/")));
    // Directories in the image, with the host's owner and mode: an engine's tmpfs mount point is
    // root's 0755 directory, where the server cannot create its socket lock file.
    for dir in socket_dirs(cx, d, datadir.as_deref()) {
        d.add_dir(
            dir,
            "PostgreSQL unix socket directory: sockets and their lock files, written at start",
        );
    }
    add_written_dirs(d, datadir.as_deref());
}

/// `log_directory` (the logging collector's files) and `stats_temp_directory` (PostgreSQL 14
/// and older): relative ones are inside the data directory, a volume already; absolute ones
/// must exist for the server to start.
fn add_written_dirs(d: &mut Draft, datadir: Option<&str>) {
    let vars = d.vars.clone();
    let outside = |var: &str| {
        vars.first(var)
            .map(|v| v.trim_matches('\'').to_string())
            .filter(|v| v.starts_with('/'))
            .map(|v| normalize(Path::new(&v)).to_string_lossy().into_owned())
            .filter(|v| datadir.is_none_or(|data| !v.starts_with(&format!("{data}/"))))
    };
    if let Some(dir) = outside("log_directory") {
        d.add_dir(
            dir,
            "PostgreSQL log_directory: the logging collector writes there",
        );
    }
    if let Some(dir) = outside("stats_temp_directory") {
        d.add_volume(crate::plan::Volume {
            path: dir,
            kind: crate::plan::VolumeKind::Tmpfs,
            populate: false,
            populate_with: None,
            live_writes: None,
            scratch: false,
            why: "PostgreSQL stats_temp_directory: statistics written at run time, not kept"
                .to_string(),
        });
    }
}

fn absolute(path: &str, cwd: &str) -> String {
    normalize(&Path::new(cwd).join(path))
        .to_string_lossy()
        .into_owned()
}

/// The directories the server puts its unix sockets in: `-k` or `unix_socket_directories`
/// (command line, then configuration), else the one the running server reports in
/// `postmaster.pid`.
fn socket_dirs(cx: &HookContext, d: &Draft, datadir: Option<&str>) -> Vec<String> {
    let cmdline = cx.process.cmdline.join(" ");
    let from_cmdline = regex::Regex::new(r"(?:^|\s)(?:-k\s*|unix_socket_directories=)(\S+)")
        .ok()
        .and_then(|re| re.captures(&cmdline))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let from_pid_file = || {
        let text = cx
            .inputs
            .host
            .read_to_string(&Path::new(datadir?).join("postmaster.pid"))
            .ok()?;
        text.lines().nth(4).map(str::to_string)
    };
    let list = from_cmdline
        .or_else(|| d.vars.first("socket_dirs").map(str::to_string))
        .or_else(from_pid_file)
        .unwrap_or_default();
    let mut dirs: Vec<String> = list
        .split(',')
        .map(|s| s.trim().trim_matches('\'').trim_matches('"'))
        .filter(|s| s.starts_with('/'))
        .map(|s| normalize(Path::new(s)).to_string_lossy().into_owned())
        .collect();
    dirs.dedup();
    dirs
}
