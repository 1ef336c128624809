//! PostgreSQL the way an init script starts one: initdb'd into its own directory (trust
//! authentication on loopback), `pg_ctl start` as the postgres user, its own port and socket
//! directory. An analyzed stack: the generic path must lift it too, with its tables
//! (`--generic`); `liftkit bench parity` loads it.

use super::{daemon_command, run, Running, Service, TestbedError};
use std::path::Path;
use std::process::Command;

pub const SERVICE: Service = Service {
    name: "postgres",
    needs: ("/usr/lib/postgresql/15/bin/postgres", "postgresql-15"),
    covers: "analyzed stack (database with data, pg_ctl start as its user, own socket dir)",
    analyzed: true,
    init_script: false,
    start: start_with_data,
};

/// bookworm's PostgreSQL (Debian `postgresql` → postgresql-15).
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(program: &str) -> std::process::Command {
    let mut c = daemon_command("/usr/sbin/runuser");
    c.args(["-u", "postgres", "--"])
        .arg(Path::new(BIN).join(program))
        .current_dir("/");
    c
}

pub fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    if !Path::new(BIN).join("postgres").exists() {
        return Err(TestbedError::Missing(
            format!("{BIN}/postgres"),
            "postgresql-15".to_string(),
        ));
    }
    let data = dir.join("data");
    let sock = dir.join("sock");
    let log = dir.join("postgres.log");
    std::fs::create_dir_all(&data).map_err(super::io(&data))?;
    std::fs::create_dir_all(&sock).map_err(super::io(&sock))?;
    std::fs::write(&log, "").map_err(super::io(&log))?;
    for p in [&data, &sock, &log] {
        super::chown(p, "postgres")?;
    }
    super::set_mode(&data, 0o700)?;
    run(
        "postgres",
        as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data),
    )?;
    run(
        "postgres",
        as_postgres("pg_ctl")
            .args(["start", "-w", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                sock.display()
            )),
    )?;
    let mut r = super::started("postgres", port, probe, &log)?;
    // The postmaster, the first line of its pid file.
    if let Some(pid) = std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse().ok())
    {
        r.pid = pid;
    }
    Ok(r)
}

/// The corpus's PostgreSQL: a table written and checkpointed before the lift, which the image's
/// data volume must carry; the probe reads it back.
fn start_with_data(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let mut r = start(dir, port)?;
    sql(
        port,
        "CREATE TABLE corpus (v text); INSERT INTO corpus VALUES ('kept'); CHECKPOINT;",
    )
    .map_err(|what| TestbedError::Start {
        service: "postgres".to_string(),
        what,
    })?;
    r.probe = read_back;
    Ok(r)
}

fn read_back(port: u16) -> Result<String, String> {
    sql(port, "SELECT v FROM corpus")
}

/// One statement through psql (the client a DBA would use), its unaligned output.
fn sql(port: u16, statement: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-Atqc", statement])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "psql: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// An SSLRequest: any PostgreSQL answers one byte, `N` without TLS.
pub fn probe(port: u16) -> Result<String, String> {
    let answer = super::exchange(port, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", Some(b"N"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
