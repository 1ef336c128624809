//! nginx with its own config on the command line (`-c`), docroot and logs in its directory.

use super::{write, Launch, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service {
    name: "nginx",
    needs: ("/usr/sbin/nginx", "nginx-light"),
    covers: "analyzed stack (-c conf, docroot in conf, daemonizes)",
    analyzed: true,
    init_script: false,
    start,
};

/// A real nginx the way a legacy host runs it (daemonized, its own config, a clean environment),
/// serving `dir/www`; config, pid and logs in `dir`.
pub fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    start_with(dir, port, &Launch::Direct)
}

pub fn start_with(dir: &Path, port: u16, launch: &Launch) -> Result<Running, TestbedError> {
    let www = dir.join("www");
    if !www.join("index.html").exists() {
        write(&www.join("index.html"), &format!("<h1>on {port}</h1>\n"))?;
    }
    let conf = dir.join("nginx.conf");
    write(
        &conf,
        &format!(
            "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n  }}\n}}\n",
            d = dir.display()
        ),
    )?;
    launch.run(
        "nginx",
        launch.command("/usr/sbin/nginx").arg("-c").arg(&conf),
    )?;
    let mut r = super::started("nginx", port, probe, &dir.join("error.log"))?;
    // The master, not the worker that happens to hold the socket first.
    if let Some(master) = std::fs::read_to_string(dir.join("nginx.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
    {
        r.pid = master;
    }
    Ok(r)
}

pub fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "{} | {}",
        super::http_get(port, "/")?,
        super::http_get(port, "/no-such-page")?
            .split_whitespace()
            .next()
            .unwrap_or("")
    ))
}
