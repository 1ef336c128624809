//! Caddy, a Go binary, serving a directory named on its command line (`--root`, cause 1).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "caddy",
    ("/usr/bin/caddy", "caddy"),
    "1 (--root DIR on the command line), a Go binary",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    write(
        &dir.join("site/index.html"),
        "<h1>served by a Go binary</h1>\n",
    )?;
    write(&dir.join("site/data.txt"), "a file beside the index\n")?;
    super::spawn_background(
        "caddy",
        daemon_command("/usr/bin/caddy")
            .env("HOME", dir)
            .args(["file-server", "--root"])
            .arg(dir.join("site"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}")),
        &dir.join("caddy.log"),
    )?;
    super::started("caddy", port, probe, &dir.join("caddy.log"))
}

fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "{} | {}",
        super::http_get(port, "/")?,
        super::http_get(port, "/data.txt")?
    ))
}
