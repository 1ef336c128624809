//! The `pg_basebackup` volume strategy: a PostgreSQL data directory filled with a base backup of
//! the running server instead of a copy of its files.
//!
//! Why: a running server's files are never a consistent copy (pages are written back at
//! checkpoints, WAL segments recycled while a copy walks the tree). A base backup is: the server
//! starts a checkpoint, the files are streamed while WAL keeps every change made meanwhile, and the
//! WAL up to the end of the backup is included (`-X fetch`); the lifted server replays it on its
//! first start (`backup_label`) and opens exactly the data committed when the backup ended.
//!
//! How: `pg_basebackup` from the server's own bin directory, run as the data directory's owner
//! (peer or trust authentication over the unix socket, as `local replication` allows in initdb's
//! and Debian's default pg_hba.conf), writing a tar stream to stdout that liftkit unpacks into the
//! volume: nothing is written on the host outside the output directory. The server itself writes
//! a checkpoint and a backup-end record into its WAL, as any backup does.
//!
//! When it cannot run (the source is not this live host, the server is stopped, the replication
//! connection is refused), the caller falls back to copying the files; the findings say which
//! guarantee that copy has.

use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Volume};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const STRATEGY: &str = "pg_basebackup";

/// What `postmaster.pid` says about the running server (lines 1, 4, 5, 6).
#[derive(Debug, PartialEq)]
struct Postmaster {
    pid: String,
    port: String,
    socket_dir: Option<String>,
    listen: Option<String>,
}

fn parse_pid_file(text: &str) -> Option<Postmaster> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let non_empty = |i: usize| {
        lines
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    Some(Postmaster {
        pid: non_empty(0)?,
        port: non_empty(3)?,
        socket_dir: non_empty(4),
        listen: non_empty(5),
    })
}

/// Fills `dest` with a base backup; `Ok(None)` when the caller should copy the files instead
/// (the reason is in `findings`). Errors are the output's (it cannot be written).
pub fn populate(
    app: &AppPlan,
    volume: &Volume,
    host: &dyn Host,
    dest: &Path,
    findings: &mut Vec<Finding>,
) -> io::Result<Option<u64>> {
    let datadir = Path::new(&volume.path);
    let fallback = |findings: &mut Vec<Finding>, why: String| {
        findings.push(Finding::warning(
            &volume.path,
            format!("{why}; the files are copied instead"),
        ));
        Ok(None)
    };
    if !host.is_live() {
        return fallback(
            findings,
            "no base backup: the source is not this live host (the copy is consistent only if \
             the cluster was shut down cleanly)"
                .to_string(),
        );
    }
    let Ok(pid_text) = host.read_to_string(&datadir.join("postmaster.pid")) else {
        findings.push(Finding::info(
            &volume.path,
            "server not running (no postmaster.pid): its files are copied, a consistent copy \
             when the cluster was shut down cleanly",
        ));
        return Ok(None);
    };
    let Some(pm) = parse_pid_file(&pid_text) else {
        return fallback(findings, "postmaster.pid is not readable".to_string());
    };
    let Ok(meta) = host.stat(datadir) else {
        return fallback(findings, "data directory cannot be read".to_string());
    };
    let bin = client_binary(app, host);
    let target = pm
        .socket_dir
        .clone()
        .or_else(|| pm.listen.clone().filter(|l| l != "*"))
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let mut cmd = Command::new(&bin);
    cmd.args(["-D", "-", "-F", "t", "-X", "fetch", "--checkpoint=fast"])
        .args(["--no-manifest", "-w", "-h", &target, "-p", &pm.port])
        .args(["-U", &app.image.user])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGAPPNAME", "liftkit")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // As the data directory's owner: peer authentication maps it to the database superuser, and a
    // superuser (root) could not be one.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        cmd.uid(meta.uid()).gid(meta.gid());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return fallback(findings, format!("{} cannot run: {e}", bin.display()));
        }
    };
    let mut stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(64 << 10).read_to_string(&mut text);
        }
        text
    });
    let unpacked = unpack(child.stdout.take(), dest);
    if unpacked.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let errors = errors.join().unwrap_or_default();
    let bytes = match (unpacked, status.success()) {
        (Ok(bytes), true) => bytes,
        (result, _) => {
            clear(dest)?;
            let why = match result {
                Err(e) => e.to_string(),
                Ok(_) => errors.trim().lines().last().unwrap_or("failed").to_string(),
            };
            return fallback(findings, format!("base backup failed ({why})"));
        }
    };
    // The tar has no entry for the directory itself: PostgreSQL refuses a data directory that is
    // not its own with mode 0700 (or 0750).
    std::os::unix::fs::chown(dest, Some(meta.uid()), Some(meta.gid()))?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    findings.push(Finding::info(
        &volume.path,
        format!(
            "consistent copy: base backup of the running server (pid {}, {}:{}) with the WAL to \
             its end, replayed by the lifted server on its first start (let that start finish: \
             if it is interrupted, PostgreSQL 15 resumes only after backup_label.old and \
             tablespace_map.old are renamed back to backup_label and tablespace_map)",
            pm.pid, target, pm.port
        ),
    ));
    Ok(Some(bytes))
}

/// The server's own pg_basebackup (same major version), else one on the PATH.
fn client_binary(app: &AppPlan, host: &dyn Host) -> PathBuf {
    let beside = app
        .image
        .entrypoint
        .first()
        .and_then(|exe| Path::new(exe).parent())
        .map(|dir| dir.join("pg_basebackup"));
    match beside {
        // Only ever run on the live host (checked before), where in-host paths are this machine's.
        Some(p) if host.is_live() && host.exists(&p) => p,
        _ => PathBuf::from("pg_basebackup"),
    }
}

/// Unpacks the tar stream with owners, modes and times; returns the bytes of the files.
fn unpack(stream: Option<impl Read>, dest: &Path) -> io::Result<u64> {
    let stream = stream.ok_or_else(|| io::Error::other("no output from pg_basebackup"))?;
    let mut archive = tar::Archive::new(stream);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    let mut bytes = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        bytes += entry.size();
        if !entry.unpack_in(dest)? {
            return Err(io::Error::other(format!(
                "unsafe path in the backup: {}",
                entry.path()?.display()
            )));
        }
    }
    Ok(bytes)
}

/// Empties a half-filled volume so the fallback copy starts clean.
fn clear(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_running_servers_address_from_postmaster_pid() {
        let text = "9461\n/tmp/pg/data\n1795378324\n55432\n/tmp/pg/sock\n127.0.0.1\n  10051698         4\nready   \n";
        assert_eq!(
            parse_pid_file(text),
            Some(Postmaster {
                pid: "9461".into(),
                port: "55432".into(),
                socket_dir: Some("/tmp/pg/sock".into()),
                listen: Some("127.0.0.1".into()),
            })
        );
        let no_socket = "1\n/d\n0\n5432\n\n*\n";
        assert_eq!(parse_pid_file(no_socket).unwrap().socket_dir, None);
        assert_eq!(parse_pid_file("1\n/d\n"), None, "no port line");
    }
}
