//! BIND's named with `-c conf` (cause 1), a zone file named in that config (cause 2), forking
//! into the background by default (cause 5) and dropping to the `bind` user.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "named",
    ("/usr/sbin/named", "bind9"),
    "1 (-c conf), 2 (zone file, directory in conf), 5 (daemonizes by default)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(
        &dir.join("zones/corpus.test.zone"),
        "$TTL 300\n@ IN SOA ns.corpus.test. admin.corpus.test. 1 3600 600 86400 300\n\
         @ IN NS ns.corpus.test.\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n",
    )?;
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(super::io(&run_dir))?;
    super::chown(&run_dir, "bind")?;
    write(
        &dir.join("named.conf"),
        &format!(
            "options {{\n  directory \"{d}/run\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  \
             listen-on-v6 {{ none; }};\n  pid-file \"{d}/run/named.pid\";\n  recursion no;\n  \
             dnssec-validation no;\n}};\ncontrols {{ }};\n\
             zone \"corpus.test\" {{ type primary; file \"{d}/zones/corpus.test.zone\"; }};\n"
        ),
    )?;
    run(
        "named",
        daemon_command("/usr/sbin/named")
            .args(["-u", "bind", "-4", "-c"])
            .arg(dir.join("named.conf")),
    )?;
    super::started("named", port, probe, &dir.join("none.log"))
}

fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "{} | {}",
        super::dns::query_a(port, "www.corpus.test")?,
        super::dns::query_a(port, "ns.corpus.test")?
    ))
}
