//! lighttpd with `-f conf` (cause 1), its document root and an included file named only inside
//! that config (cause 2); it forks into the background by default (cause 5).

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "lighttpd",
    ("/usr/sbin/lighttpd", "lighttpd"),
    "1 (-f conf), 2 (docroot, include in conf), 5 (daemonizes)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(&dir.join("site/index.html"), "<h1>lighttpd corpus</h1>\n")?;
    write(
        &dir.join("site/about.txt"),
        "served from a docroot named in the config\n",
    )?;
    write(
        &dir.join("conf/mime.conf"),
        "mimetype.assign = ( \".html\" => \"text/html\", \".txt\" => \"text/plain\" )\n",
    )?;
    write(
        &dir.join("conf/lighttpd.conf"),
        &format!(
            "server.document-root = \"{d}/site\"\nserver.port = {port}\n\
             server.bind = \"127.0.0.1\"\nserver.username = \"www-data\"\n\
             server.groupname = \"www-data\"\nserver.pid-file = \"{d}/lighttpd.pid\"\n\
             server.errorlog = \"{d}/error.log\"\nindex-file.names = ( \"index.html\" )\n\
             include \"mime.conf\"\n"
        ),
    )?;
    std::fs::File::create(dir.join("error.log")).map_err(super::io(dir))?;
    super::chown(&dir.join("error.log"), "www-data")?;
    run(
        "lighttpd",
        daemon_command("/usr/sbin/lighttpd")
            .arg("-f")
            .arg(dir.join("conf/lighttpd.conf")),
    )?;
    super::started("lighttpd", port, probe, &dir.join("error.log"))
}

fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "{} | {}",
        super::http_get(port, "/")?,
        super::http_get(port, "/about.txt")?
    ))
}
