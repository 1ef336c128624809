//! The links between the applications of one plan: an app holding a connection to an address
//! another lifted app listens on (a web app and its database on one host), which address it
//! used, where that address is configured, and how the lifted pair reaches each other.

use crate::findings::Finding;
use crate::plan::AppPlan;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Fills `connections` of every app that talks to another app of the plan, with a finding on how
/// the pair reaches each other after the lift.
pub fn link(snapshot: &Snapshot, apps: &mut [AppPlan]) {
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for (i, client) in apps.iter().enumerate() {
        let pids: Vec<i32> = client.processes.iter().map(|p| p.pid).collect();
        let remotes: BTreeSet<&str> = snapshot
            .connections
            .iter()
            .filter(|c| pids.contains(&c.pid))
            .map(|c| c.remote.as_str())
            .collect();
        for remote in remotes {
            let Some((ip, port)) = split_address(remote) else {
                continue;
            };
            let server = apps.iter().enumerate().find(|(j, s)| {
                *j != i
                    && s.image
                        .listen
                        .iter()
                        .any(|l| serves(l, ip, port, &snapshot.host.addresses))
            });
            if let Some((j, _)) = server {
                found.push((i, j, remote.to_string()));
            }
        }
    }
    for (i, j, remote) in found {
        let (server_name, server_image) = (apps[j].name.clone(), apps[j].image.name.clone());
        let env_var = configured_in(snapshot, &apps[i], &remote);
        let client = &mut apps[i];
        client.connections.push(format!(
            "{remote}/tcp → {server_name} (lifted as {server_image})"
        ));
        let source = match &env_var {
            Some(key) => format!("the address comes from {key} in its environment"),
            None => "the address is not in its environment: it is in its code or \
                     configuration"
                .to_string(),
        };
        let elsewhere = match &env_var {
            Some(key) => format!("set {key} to the {server_name} container's address"),
            None => format!("change that address to the {server_name} container's"),
        };
        client.findings.push(Finding::info(
            format!("connection {remote}"),
            format!(
                "{} connects to {server_name} at {remote} ({source}). Both images run with \
                 host networking as the source did, so the lifted pair reaches each other at the \
                 same address; on another network (a bridge, a pod, compose), {elsewhere}.",
                client.name
            ),
        ));
    }
}

/// Whether a listen address (`127.0.0.1:6379/tcp`, `[::]:80/tcp`) accepts connections to
/// `ip:port` on this host.
fn serves(listen: &str, ip: IpAddr, port: u16, host_addresses: &[String]) -> bool {
    let Some((addr, proto)) = listen.rsplit_once('/') else {
        return false;
    };
    let Some((lip, lport)) = split_address(addr) else {
        return false;
    };
    if proto != "tcp" || lport != port {
        return false;
    }
    if lip == ip {
        return true;
    }
    lip.is_unspecified()
        && (ip.is_loopback()
            || host_addresses
                .iter()
                .any(|a| a.split('/').next() == Some(ip.to_string().as_str())))
}

fn split_address(addr: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = addr.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// The environment variable of the client's main process whose value names the address
/// (`REDIS_URL=redis://127.0.0.1:6379/0`), `localhost` standing for loopback.
fn configured_in(snapshot: &Snapshot, client: &AppPlan, remote: &str) -> Option<String> {
    let root = snapshot.process(client.processes.first()?.pid)?;
    let (ip, port) = split_address(remote)?;
    let mut spellings = vec![remote.to_string()];
    if ip.is_loopback() {
        spellings.push(format!("localhost:{port}"));
    }
    root.environ.iter().find_map(|kv| {
        let (key, value) = kv.split_once('=')?;
        spellings
            .iter()
            .any(|s| value.contains(s.as_str()))
            .then(|| key.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_serve_their_port_on_the_right_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let host = vec!["10.0.0.5/24".to_string()];
        assert!(serves("127.0.0.1:6379/tcp", ip("127.0.0.1"), 6379, &host));
        assert!(!serves("127.0.0.1:6379/tcp", ip("127.0.0.1"), 6380, &host));
        assert!(serves("0.0.0.0:5432/tcp", ip("10.0.0.5"), 5432, &host));
        assert!(serves("[::]:5432/tcp", ip("::1"), 5432, &host));
        assert!(!serves("0.0.0.0:5432/tcp", ip("10.0.0.9"), 5432, &host));
        assert!(!serves("127.0.0.1:53/udp", ip("127.0.0.1"), 53, &host));
    }
}
