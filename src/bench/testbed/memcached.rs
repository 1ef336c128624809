//! memcached started with `-d`: it forks into the background and its first process exits
//! (cause 5: the daemon-safe entrypoint). Its settings come only from the command line.

use super::{daemon_command, run, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "memcached",
    ("/usr/bin/memcached", "memcached"),
    "5 (-d daemonizes), settings on the command line",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    run(
        "memcached",
        daemon_command("/usr/bin/memcached")
            .args([
                "-d",
                "-u",
                "memcache",
                "-l",
                "127.0.0.1",
                "-m",
                "48",
                "-c",
                "321",
            ])
            .arg("-p")
            .arg(port.to_string()),
    )?;
    super::started("memcached", port, probe, &dir.join("none.log"))
}

/// The settings it runs with (only the command line says them) and a store/fetch round trip.
fn probe(port: u16) -> Result<String, String> {
    let reply = super::exchange(
        port,
        b"set k 0 0 5\r\nhello\r\nget k\r\nstats settings\r\nquit\r\n",
        None,
    )?;
    let text = String::from_utf8_lossy(&reply);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            [
                "STORED",
                "VALUE",
                "hello",
                "STAT maxbytes",
                "STAT maxconns",
                "STAT tcpport",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .collect();
    Ok(kept.join(" | "))
}
