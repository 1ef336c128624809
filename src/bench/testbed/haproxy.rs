//! haproxy with `-D` (cause 5) and `-f conf` (cause 1), answering from a file named in that
//! config (cause 2).

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "haproxy",
    ("/usr/sbin/haproxy", "haproxy"),
    "1 (-f conf), 2 (file in conf), 5 (-D)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(
        &dir.join("pages/hello.txt"),
        "hello from haproxy's own file\n",
    )?;
    write(
        &dir.join("haproxy.cfg"),
        &format!(
            "global\n  pidfile {d}/haproxy.pid\n\ndefaults\n  mode http\n  timeout client 10s\n  \
             timeout connect 5s\n  timeout server 10s\n\nfrontend web\n  bind 127.0.0.1:{port}\n  \
             http-request return status 200 content-type text/plain file {d}/pages/hello.txt\n"
        ),
    )?;
    run(
        "haproxy",
        daemon_command("/usr/sbin/haproxy")
            .arg("-D")
            .arg("-f")
            .arg(dir.join("haproxy.cfg")),
    )?;
    super::started("haproxy", port, probe, &dir.join("none.log"))
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
