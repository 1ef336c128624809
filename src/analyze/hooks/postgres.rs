//! PostgreSQL: what the analyzer's data cannot say. The data directory is filled by a base
//! backup rather than a file copy (a running server's files are not a consistent copy), the
//! socket directories must exist writable by the server, and the server dlopens modules from its package
//! library directory (procedural languages, text search, encoding conversions) only on first use,
//! so the running process's maps do not name them all.

use super::HookContext;
use crate::analyze::draft::Draft;
use crate::findings::Finding;
use crate::host::normalize;
use crate::plan::Role;
use std::path::Path;

/// The build strategy that fills the data directory (see `build::pg_basebackup`).
pub const POPULATE_STRATEGY: &str = "pg_basebackup";

pub(super) fn postgresql(cx: &HookContext, d: &mut Draft) {
    let datadir = d
        .vars
        .first("datadir")
        .map(|dir| absolute(dir, d.vars.first("cwd").unwrap_or("/")));
    if let Some(datadir) = &datadir {
        mark_data_volume(datadir, d);
    }
    // Directories in the image, with the host's owner and mode: an engine's tmpfs mount point is
    // root's 0755 directory, where the server cannot create its socket lock file.
    for dir in socket_dirs(cx, d, datadir.as_deref()) {
        d.add_dir(
            dir,
            "PostgreSQL unix socket directory: sockets and their lock files, written at start",
        );
    }
    let pid_file_dir = d
        .vars
        .first("external_pid_file")
        .and_then(|f| Path::new(f).parent())
        .map(|p| p.to_string_lossy().into_owned());
    if let Some(dir) = pid_file_dir {
        d.add_dir(dir, "holds PostgreSQL's external_pid_file");
    }
    add_written_dirs(d, datadir.as_deref());
    add_modules(cx, d);
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

fn mark_data_volume(datadir: &str, d: &mut Draft) {
    match d.volumes.iter_mut().find(|v| v.path == datadir) {
        Some(v) => {
            v.populate_with = Some(POPULATE_STRATEGY.to_string());
            v.why = format!(
                "PostgreSQL data directory: filled by a base backup of the running server \
                 ({POPULATE_STRATEGY}), owner and mode {datadir} has on the host"
            );
        }
        None => d.findings.push(Finding::warning(
            datadir,
            "PostgreSQL data directory is not a volume: the lifted server has no data",
        )),
    }
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

/// Every loadable module of the server except the JIT provider: llvmjit.so pulls in LLVM
/// (about 100 MB) and PostgreSQL runs without it, compiling nothing.
fn add_modules(cx: &HookContext, d: &mut Draft) {
    let Some(libdir) = d.vars.first("pkglibdir").map(str::to_string) else {
        return;
    };
    let Ok(names) = cx.inputs.host.read_dir(Path::new(&libdir)) else {
        return;
    };
    for name in names {
        let name = name.to_string_lossy();
        if !name.ends_with(".so") {
            continue;
        }
        let path = format!("{libdir}/{name}");
        if name.starts_with("llvmjit") {
            d.findings.push(Finding::info(
                &path,
                "JIT provider left out (it needs LLVM): the lifted server runs queries without JIT",
            ));
            d.files.remove(&path);
            continue;
        }
        d.files.add(
            &path,
            Role::Code,
            "PostgreSQL module, loaded on first use (languages, text search, conversions)",
        );
        d.elf_objects.push(path);
    }
}
