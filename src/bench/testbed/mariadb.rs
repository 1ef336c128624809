//! MariaDB started by its `mysqld_safe` wrapper (a shell script that runs the server in the
//! background), with `--defaults-file` (cause 1) naming its own data directory (cause 6) holding
//! a table written before the lift.

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;
use std::process::Command;

pub const SERVICE: Service = Service::corpus(
    "mariadb",
    ("/usr/sbin/mariadbd", "mariadb-server mariadb-client"),
    "1 (--defaults-file), 4 (mysqld_safe shell wrapper), 6 (data dir with a table)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    for sub in ["data", "run", "log"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(super::io(&p))?;
        super::chown(&p, "mysql")?;
    }
    let cnf = dir.join("my.cnf");
    write(
        &cnf,
        &format!(
            "[mysqld]\ndatadir={d}/data\nsocket={d}/run/mysqld.sock\npid-file={d}/run/mysqld.pid\n\
             port={port}\nbind-address=127.0.0.1\nuser=mysql\nskip-name-resolve\n\
             log-error={d}/log/error.log\ninnodb_buffer_pool_size=16M\n\
             [client]\nsocket={d}/run/mysqld.sock\n"
        ),
    )?;
    let fail = |what: String| TestbedError::Start {
        service: "mariadb".into(),
        what,
    };
    let out = Command::new("mariadb-install-db")
        .arg(format!("--defaults-file={}", cnf.display()))
        .args([
            "--user=mysql",
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
        ])
        .output()
        .map_err(|e| fail(format!("mariadb-install-db: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    super::spawn_background(
        "mariadb",
        daemon_command("/usr/bin/mysqld_safe").arg(format!("--defaults-file={}", cnf.display())),
        &dir.join("log/safe.log"),
    )?;
    let r = super::started("mariadb", port, probe_unready, &dir.join("log/error.log"))?;
    let sql = "CREATE DATABASE corpus; CREATE TABLE corpus.t (v VARCHAR(20)); \
               INSERT INTO corpus.t VALUES ('kept before the lift'); \
               CREATE USER 'corpus'@'127.0.0.1' IDENTIFIED BY 'pw'; \
               GRANT SELECT ON corpus.* TO 'corpus'@'127.0.0.1'; FLUSH TABLES;";
    let out = Command::new("mariadb")
        .arg(format!("--defaults-file={}", cnf.display()))
        .args(["-u", "root", "-e", sql])
        .output()
        .map_err(|e| fail(format!("mariadb client: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let mut r = r;
    r.probe = probe;
    Ok(r)
}

fn probe_unready(_: u16) -> Result<String, String> {
    Err("not set up yet".to_string())
}

/// The row written before the lift, read over TCP as an application would.
fn probe(port: u16) -> Result<String, String> {
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-h", "127.0.0.1", "-P", &port.to_string()])
        .args([
            "-u",
            "corpus",
            "-ppw",
            "-N",
            "-B",
            "-e",
            "SELECT v FROM corpus.t",
        ])
        .output()
        .map_err(|e| format!("mariadb client: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
