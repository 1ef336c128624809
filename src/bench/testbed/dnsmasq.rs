//! dnsmasq, which forks into the background by default (cause 5), with `-C conf` (cause 1)
//! naming a hosts file it answers from (cause 2).

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "dnsmasq",
    ("/usr/sbin/dnsmasq", "dnsmasq"),
    "1 (-C conf), 2 (addn-hosts in conf), 5 (daemonizes by default)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(
        &dir.join("hosts.corpus"),
        "192.0.2.10 app.corpus.test\n192.0.2.11 db.corpus.test\n",
    )?;
    write(
        &dir.join("dnsmasq.conf"),
        &format!(
            "port={port}\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n\
             addn-hosts={d}/hosts.corpus\npid-file={d}/dnsmasq.pid\nuser=dnsmasq\n"
        ),
    )?;
    run(
        "dnsmasq",
        daemon_command("/usr/sbin/dnsmasq")
            .arg("-C")
            .arg(dir.join("dnsmasq.conf")),
    )?;
    super::started("dnsmasq", port, probe, &dir.join("none.log"))
}

fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "{} | {}",
        super::dns::query_a(port, "app.corpus.test")?,
        super::dns::query_a(port, "db.corpus.test")?
    ))
}
