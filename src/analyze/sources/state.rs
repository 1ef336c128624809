//! Cause 6: what the program writes is its state, kept outside the image. Files open for writing
//! (the flags `collect` read from `/proc/PID/fdinfo`), lock and pid files, the Unix sockets it
//! listens on, and a writable working directory holding such files become volumes populated
//! from the host (or a tmpfs, for what is gone at every boot); the rest of the tree stays
//! read-only code or configuration in the image.

use super::paths;
use super::{AppFacts, Found, Kind};
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Places whose first level below holds one program's state by convention.
const STATE_PLACES: &[&str] = &["/var/lib", "/var/spool", "/var/cache", "/var/db"];

pub fn writers(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let mut written_files = Found::default();
    for p in app.processes {
        for fd in p.fds.iter().filter(|f| f.writes()) {
            let path = fd.target.as_str();
            if !path.starts_with('/')
                || path.contains(" (deleted)")
                || paths::is_virtual(path)
                || app.in_volume(path)
                || !inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_file())
            {
                continue;
            }
            let why = format!("pid {} writes {path} (fd {})", p.pid, fd.fd);
            if paths::is_log(path) {
                // The program opens it for writing at start, as the user it runs as: the
                // image holds it with the host's owner and mode.
                found.file(path, Role::Log, why, Confidence::Observed);
                continue;
            }
            if paths::is_pid_or_lock(path) {
                // Made at every start: its directory must be there, the file not copied.
                if let Some(dir) = parent(path) {
                    runtime_dir(&dir, why, &mut found);
                }
                continue;
            }
            written(app, p, path, why, &mut written_files);
        }
    }
    // Temporary files (often unlinked at once, still open): the temp dir must exist.
    for p in app.processes {
        for fd in &p.fds {
            let path = fd.target.trim_end_matches(" (deleted)");
            if let Some(tmp) = ["/tmp", "/var/tmp"]
                .iter()
                .find(|t| paths::is_within(path, t) && path != **t)
            {
                let why = format!("pid {} keeps a temporary file there (fd {})", p.pid, fd.fd);
                found.add(*tmp, Kind::Dir, Role::State, why, Confidence::Observed);
            }
        }
    }
    found.findings.extend(written_files.findings);
    found.evidence.extend(merge_volumes(written_files.evidence));
    let covered = |dir: &str| {
        found.evidence.iter().any(|e| {
            e.kind == Kind::Volume
                && (paths::is_within(dir, &e.path) || paths::is_within(&e.path, dir))
        })
    };
    let wd = working_directory(inp, app);
    if !wd.evidence.iter().any(|e| covered(&e.path)) {
        found.extend(wd);
    }
    let pids: Vec<i32> = app.processes.iter().map(|p| p.pid).collect();
    for s in inp
        .snapshot
        .unix_sockets
        .iter()
        .filter(|s| s.pids.iter().any(|p| pids.contains(p)))
    {
        let Some(dir) = parent(&s.path) else { continue };
        if app.in_volume(&s.path) {
            continue;
        }
        let why = format!(
            "holds the Unix socket {} the application listens on",
            s.path
        );
        runtime_dir(&dir, why, &mut found);
    }
    found
}

/// A daemon that changes into its data directory (redis's `dir`) works there even when nothing
/// is open at the moment: a working directory of its own, writable by it and holding none of
/// the code or configuration the plan takes, is its state.
fn working_directory(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let p = app.root;
    let Some(cwd) = app
        .cwd()
        .filter(|c| !paths::is_system_dir(c) && !paths::is_virtual(c))
    else {
        return found;
    };
    if app.in_volume(cwd) || paths::is_transient(cwd) {
        return found;
    }
    let Ok(meta) = inp.host.stat(Path::new(cwd)) else {
        return found;
    };
    let uid = p.uids[1];
    let writable = meta.is_dir()
        && (uid == 0
            || (meta.uid() == uid && meta.mode() & 0o200 != 0)
            || meta.mode() & 0o002 != 0);
    let holds_plan = app
        .files
        .roles()
        .any(|(f, r)| matches!(r, Role::Code | Role::Config) && paths::is_within(f, cwd));
    // A login's home is where someone started it by hand, not its state; a root daemon can
    // write anywhere, so only a conventional state place says it is its own.
    let home = ["/home", "/root"].iter().any(|h| paths::is_within(cwd, h));
    let place = STATE_PLACES.iter().any(|s| paths::is_within(cwd, s));
    if writable && !holds_plan && !home && (uid != 0 || place) {
        let why = format!(
            "the working directory of pid {}, writable by it and holding none of its code or \
             configuration, copied from the host",
            p.pid
        );
        found.add(cwd, Kind::Volume, Role::State, why, Confidence::Guessed);
    }
    found
}

/// One volume per directory however many files are written there, its reason naming the first.
fn merge_volumes(evidence: Vec<super::Evidence>) -> Vec<super::Evidence> {
    let mut out: Vec<super::Evidence> = Vec::new();
    let mut more: Vec<usize> = Vec::new();
    for e in evidence {
        match out
            .iter()
            .position(|o| o.kind == Kind::Volume && e.kind == Kind::Volume && o.path == e.path)
        {
            Some(i) => more[i] += 1,
            None => {
                out.push(e);
                more.push(0);
            }
        }
    }
    for (e, n) in out.iter_mut().zip(more) {
        if n > 0 {
            e.why = match e.why.split_once(", copied") {
                Some((head, _)) => {
                    format!("{head}, and {n} more file(s) there, copied from the host")
                }
                None => format!("{} (and {n} more file(s) there)", e.why),
            };
        }
    }
    out
}

fn parent(path: &str) -> Option<String> {
    Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
}

/// A directory written at run time whose content need not be kept: a tmpfs, or just the
/// directory where it is a place every system has (`/run`, `/tmp`).
fn runtime_dir(dir: &str, why: String, found: &mut Found) {
    if paths::is_system_dir(dir) {
        found.add(dir, Kind::Dir, Role::State, why, Confidence::Observed);
    } else if paths::is_transient(dir) {
        found.add(dir, Kind::Scratch, Role::State, why, Confidence::Observed);
    } else {
        found.add(dir, Kind::Dir, Role::State, why, Confidence::Observed);
    }
}

/// Where a written file's state lives: the working directory when it holds no code, the
/// program's directory under /var/lib (or /var/spool, /var/cache), else the file's directory.
fn written(app: &AppFacts, p: &Process, path: &str, why: String, found: &mut Found) {
    let Some(dir) = parent(path) else { return };
    if paths::is_transient(path) {
        runtime_dir(&dir, why, found);
        return;
    }
    let cwd = p
        .cwd
        .as_deref()
        .filter(|c| paths::is_within(path, c) && !paths::is_system_dir(c) && !holds_code(app, c));
    let place = STATE_PLACES.iter().find_map(|place| {
        let rest = path.strip_prefix(&format!("{place}/"))?;
        let first = rest
            .split('/')
            .next()
            .filter(|f| !f.is_empty() && rest.contains('/'))?;
        Some(format!("{place}/{first}"))
    });
    let volume = cwd
        .map(str::to_string)
        .or(place)
        .or_else(|| (!paths::is_system_dir(&dir) && !holds_code(app, &dir)).then(|| dir.clone()));
    match volume {
        Some(v) => {
            let why = if cwd == Some(v.as_str()) {
                format!("{why}, in its working directory, copied from the host")
            } else {
                format!("{why}, copied from the host")
            };
            found.add(v, Kind::Volume, Role::State, why, Confidence::Observed);
        }
        None => {
            // Written beside code or in a system directory: no volume can hold it alone.
            found.file(path, Role::State, why.clone(), Confidence::Observed);
            found.findings.push(Finding::warning(
                path,
                format!(
                    "{why}, but it lies beside code or in a system directory: the image holds \
                     the copy taken at build, and what the lifted app writes there is lost with \
                     the container; move it to a directory of its own to give it a volume"
                ),
            ));
        }
    }
}

/// Whether the plan takes code (executables, scripts, modules) under `dir`.
fn holds_code(app: &AppFacts, dir: &str) -> bool {
    app.files
        .roles()
        .any(|(p, r)| r == Role::Code && paths::is_within(p, dir))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;
    use crate::snapshot::{OpenFile, UnixSocket};

    fn fd(fd: i32, target: &str, flags: u32) -> OpenFile {
        OpenFile {
            fd,
            target: target.into(),
            flags: Some(flags),
        }
    }

    #[test]
    fn a_database_datadir_and_its_socket() {
        let mut fx = Fixture::new();
        fx.write("/var/lib/mysql/ibdata1", "x")
            .write("/var/lib/mysql/db1/t.ibd", "x")
            .write("/etc/mysql/my.cnf", "[mysqld]\n")
            .write("/var/log/mysql/error.log", "")
            .mkdir("/run/mysqld");
        fx.snapshot.unix_sockets = vec![UnixSocket {
            path: "/run/mysqld/mysqld.sock".into(),
            inode: 77,
            pids: vec![100],
        }];
        let mut p = process(
            "/usr/sbin/mariadbd",
            &["/usr/sbin/mariadbd"],
            "/var/lib/mysql",
        );
        p.fds = vec![
            fd(3, "/etc/mysql/my.cnf", 0o100000),
            fd(4, "/var/lib/mysql/db1/t.ibd", 0o100002),
            fd(5, "/var/lib/mysql/ibdata1", 0o100002),
            fd(6, "/var/log/mysql/error.log", 0o102001),
            fd(7, "/tmp/ibXyZ123 (deleted)", 0o100002),
        ];
        let found = fx.run(writers, p, &[]);
        let v = find(&found, "/var/lib/mysql");
        assert_eq!((v.kind, v.confidence), (Kind::Volume, Confidence::Observed));
        assert!(v.why.contains("working directory"), "{}", v.why);
        assert_eq!(find(&found, "/run/mysqld").kind, Kind::Scratch);
        assert_eq!(
            find(&found, "/tmp").kind,
            Kind::Dir,
            "its temp dir must exist"
        );
        assert!(!has(&found, "/etc/mysql/my.cnf"), "read, not written");
        assert!(!has(&found, "/var/log/mysql"), "logs are not volumes");
        assert_eq!(find(&found, "/var/log/mysql/error.log").role, Role::Log);
        assert_eq!(
            found
                .evidence
                .iter()
                .filter(|e| e.kind == Kind::Volume)
                .count(),
            1,
            "{:#?}",
            found.evidence
        );
    }

    #[test]
    fn a_pid_file_held_open_asks_for_its_directory_only() {
        let fx = Fixture::new();
        fx.write("/srv/site/lighttpd.pid", "1")
            .write("/srv/site/conf/x.conf", "");
        let mut p = process("/usr/sbin/lighttpd", &["lighttpd"], "/");
        p.fds = vec![fd(3, "/srv/site/lighttpd.pid", 0o100001)];
        let found = fx.run(writers, p, &[]);
        assert_eq!(find(&found, "/srv/site").kind, Kind::Dir);
        assert!(!found.evidence.iter().any(|e| e.kind == Kind::Volume));
    }

    #[test]
    fn state_beside_code_is_a_finding_not_a_volume_of_code() {
        let fx = Fixture::new();
        fx.write("/srv/app/server.js", "x")
            .write("/srv/app/visits.json", "{}");
        let mut p = process("/usr/bin/node", &["node", "server.js"], "/srv/app");
        p.fds = vec![fd(20, "/srv/app/visits.json", 0o102)];
        let found = fx.run(writers, p, &[("/srv/app/server.js", Role::Code)]);
        assert!(!found.evidence.iter().any(|e| e.kind == Kind::Volume));
        assert_eq!(find(&found, "/srv/app/visits.json").role, Role::State);
        assert_eq!(found.findings.len(), 1);
    }

    #[test]
    fn a_daemon_working_in_its_data_directory() {
        let fx = Fixture::new();
        fx.write("/srv/kv/data/dump.rdb", "x")
            .write("/home/ann/notes", "x");
        let dir = fx.dir.path().join("srv/kv/data");
        std::os::unix::fs::chown(&dir, Some(101), Some(101)).unwrap();
        let mut p = process("/usr/bin/kvd", &["kvd"], "/srv/kv/data");
        p.uids = [101; 4];
        let found = fx.run(writers, p.clone(), &[("/etc/kv.conf", Role::Config)]);
        let v = find(&found, "/srv/kv/data");
        assert_eq!((v.kind, v.confidence), (Kind::Volume, Confidence::Guessed));
        // Holding the program's configuration, a directory is its site, not its state.
        let found = fx.run(
            writers,
            p.clone(),
            &[("/srv/kv/data/kv.conf", Role::Config)],
        );
        assert!(!has(&found, "/srv/kv/data"));
        // Nor is a home someone started it from, nor a root daemon's directory outside /var/lib.
        p.cwd = Some("/home/ann".into());
        assert!(fx.run(writers, p.clone(), &[]).evidence.is_empty());
        p.cwd = Some("/srv/kv/data".into());
        p.uids = [0; 4];
        assert!(fx.run(writers, p, &[]).evidence.is_empty());
    }

    #[test]
    fn a_data_subdirectory_of_the_app_is_its_volume() {
        let fx = Fixture::new();
        fx.write("/srv/app/server.js", "x")
            .write("/srv/app/data/db.sqlite", "x");
        let mut p = process("/usr/bin/node", &["node", "server.js"], "/srv/app");
        p.fds = vec![fd(20, "/srv/app/data/db.sqlite", 0o100002)];
        let found = fx.run(writers, p, &[("/srv/app/server.js", Role::Code)]);
        assert_eq!(find(&found, "/srv/app/data").kind, Kind::Volume);
    }
}
