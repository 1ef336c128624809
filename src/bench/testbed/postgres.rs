//! PostgreSQL the way an init script starts one: initdb'd into its own directory (trust
//! authentication on loopback), `pg_ctl start` as the postgres user, its own port and socket
//! directory. Not in the generic corpus (an analyzer knows it); `liftkit bench parity` loads it.

use super::{daemon_command, run, Running, TestbedError};
use std::path::Path;

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

/// An SSLRequest: any PostgreSQL answers one byte, `N` without TLS.
pub fn probe(port: u16) -> Result<String, String> {
    let answer = super::exchange(port, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", Some(b"N"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
