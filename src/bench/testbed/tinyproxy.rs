//! tinyproxy with `-c conf` (cause 1), its statistics page from a template named in the config
//! (cause 2); it forks into the background by default (cause 5).

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "tinyproxy",
    ("/usr/bin/tinyproxy", "tinyproxy"),
    "1 (-c conf), 2 (StatFile in conf), 5 (daemonizes)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(
        &dir.join("templates/stats.html"),
        "<html><body>tinyproxy corpus stats page</body></html>\n",
    )?;
    write(
        &dir.join("tinyproxy.conf"),
        &format!(
            "User tinyproxy\nGroup tinyproxy\nPort {port}\nListen 127.0.0.1\nTimeout 60\n\
             StatHost \"corpus.stats\"\nStatFile \"{d}/templates/stats.html\"\n\
             PidFile \"{d}/tinyproxy.pid\"\nMaxClients 10\nAllow 127.0.0.1\n"
        ),
    )?;
    run(
        "tinyproxy",
        daemon_command("/usr/bin/tinyproxy")
            .arg("-c")
            .arg(dir.join("tinyproxy.conf")),
    )?;
    super::started("tinyproxy", port, probe, &dir.join("none.log"))
}

fn probe(port: u16) -> Result<String, String> {
    let req = b"GET http://corpus.stats/ HTTP/1.0\r\nHost: corpus.stats\r\n\r\n";
    let resp = super::exchange(port, req, None)?;
    let text = String::from_utf8_lossy(&resp);
    let status = text.split_whitespace().nth(1).unwrap_or("?").to_string();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(format!("{status} {body}"))
}
