//! squid with `-f conf` (cause 1), daemonizing by default (cause 5), dropping to its own user:
//! its error page is stamped with the time and the host's name (a page that changes between
//! any two answers), and it reads /etc/services, whose `kpasswd` line once passed for a secret.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "squid",
    ("/usr/sbin/squid", "squid"),
    "1 (-f conf), 5 (daemonizes), a page that changes by itself",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    write(
        &dir.join("squid.conf"),
        &format!(
            "http_port 127.0.0.1:{port}\npid_filename {d}/squid.pid\n\
             cache_log {d}/logs/cache.log\naccess_log {d}/logs/access.log\n\
             coredump_dir {d}\nhttp_access allow localhost\nhttp_access deny all\n\
             cache_effective_user proxy\n"
        ),
    )?;
    // squid writes its pid and logs as its own user.
    let proxy = proxy_ids().ok_or_else(|| TestbedError::Start {
        service: "squid".to_string(),
        what: "no user proxy in /etc/passwd (Debian's squid package makes it)".to_string(),
    })?;
    std::fs::create_dir_all(dir.join("logs")).map_err(super::io(dir))?;
    for p in [dir.to_path_buf(), dir.join("logs")] {
        std::os::unix::fs::chown(&p, Some(proxy.0), Some(proxy.1)).map_err(super::io(&p))?;
    }
    run(
        "squid",
        daemon_command("/usr/sbin/squid")
            .arg("-f")
            .arg(dir.join("squid.conf")),
    )?;
    let mut running = super::started("squid", port, probe, &dir.join("logs/cache.log"))?;
    // The listener is squid's kid, which its master starts again when it dies: the test stops
    // the master.
    if let Some(master) = squid_parent(running.pid) {
        running.pid = master;
    }
    Ok(running)
}

fn squid_parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ppid: i32 = stat
        .rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
    (comm.trim() == "squid").then_some(ppid)
}

fn proxy_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("proxy:"))?;
    let mut f = line.split(':').skip(2);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// The error page for a request that is not a proxy request, without the line stamped with
/// the time and the host's name (the judge compares what the app says, not when).
fn probe(port: u16) -> Result<String, String> {
    let resp = super::exchange(port, b"GET / HTTP/1.0\r\n\r\n", None)?;
    let text = String::from_utf8_lossy(&resp);
    let status = text.split_whitespace().nth(1).unwrap_or("?").to_string();
    let body: Vec<&str> = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter(|l| !l.contains("Generated "))
        .collect();
    Ok(format!("{status} {}", body.join("\n")))
}
