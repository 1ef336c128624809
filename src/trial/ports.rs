//! The ports a lifted app listens on in its trial, read from its own network namespace
//! (`/proc/PID/net/tcp{,6}` of the container's first process): what an app declared on a
//! powered-off disk, never seen running, would otherwise not be probed on.

use procfs::net::TcpState;

/// Listening TCP addresses in the namespace of `pid`, as the plan writes them
/// (`0.0.0.0:8080/tcp`, `[::]:8080/tcp`), sorted; empty when they cannot be read.
pub fn listening(pid: i32) -> Vec<String> {
    let Ok(p) = procfs::process::Process::new(pid) else {
        return Vec::new();
    };
    let mut out: Vec<String> = [p.tcp(), p.tcp6()]
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.state == TcpState::Listen)
        .map(|e| format!("{}/tcp", e.local_address))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_this_process_listens_on_is_seen() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = listening(std::process::id() as i32);
        assert!(
            seen.contains(&format!("127.0.0.1:{port}/tcp")),
            "{port}: {seen:?}"
        );
        assert!(listening(-1).is_empty());
    }
}
