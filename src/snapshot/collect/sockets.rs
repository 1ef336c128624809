//! Sockets the host's services answer on: listening TCP and bound UDP, IPv4 and IPv6, each joined
//! to the processes holding it through their `socket:[inode]` descriptors.
//!
//! The tables are those of collect's own network namespace; a service in another namespace (a
//! container) shows its process but not its sockets.

use crate::findings::Finding;
use crate::snapshot::{Connection, Process, Socket, UnixSocket};
use procfs::net::{TcpState, UdpState};
use std::collections::BTreeMap;
use std::net::SocketAddr;

pub fn read(processes: &[Process], findings: &mut Vec<Finding>) -> Vec<Socket> {
    let mut sockets = Vec::new();
    let tcp = [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())];
    for (proto, table) in tcp {
        let Some(entries) = table_or_note(proto, table, findings) else {
            continue;
        };
        sockets.extend(
            entries
                .into_iter()
                .filter(|e| e.state == TcpState::Listen)
                .map(|e| socket(proto, e.local_address, e.inode, e.uid)),
        );
    }
    let udp = [("udp", procfs::net::udp()), ("udp6", procfs::net::udp6())];
    for (proto, table) in udp {
        let Some(entries) = table_or_note(proto, table, findings) else {
            continue;
        };
        // A connected UDP socket is a client (a resolver's query), not a service.
        sockets.extend(
            entries
                .into_iter()
                .filter(|e| e.state != UdpState::Established)
                .map(|e| socket(proto, e.local_address, e.inode, e.uid)),
        );
    }
    join_pids(&mut sockets, processes);
    for s in sockets.iter().filter(|s| s.pids.is_empty()) {
        findings.push(Finding::info(
            format!("{} {}", s.proto, endpoint(s)),
            "held by no process whose descriptors could be read",
        ));
    }
    sockets.sort_by(|a, b| {
        (&a.proto, a.port, &a.address, a.inode).cmp(&(&b.proto, b.port, &b.address, b.inode))
    });
    sockets
}

/// Listening Unix-domain sockets bound to a path (abstract ones name no file), with their
/// holders: a lifted service needs the socket's directory to exist and be writable.
pub fn unix(processes: &[Process], findings: &mut Vec<Finding>) -> Vec<UnixSocket> {
    let Some(entries) = table_or_note("unix", procfs::net::unix(), findings) else {
        return Vec::new();
    };
    let holders = holders(processes);
    let mut out: Vec<UnixSocket> = entries
        .into_iter()
        // A listening socket is unconnected; the connections it accepted repeat its path.
        .filter(|e| e.state == procfs::net::UnixState::UNCONNECTED)
        .filter_map(|e| {
            let path = e.path?.to_string_lossy().into_owned();
            let pids = holders.get(&e.inode)?.clone();
            path.starts_with('/').then_some(UnixSocket {
                path,
                inode: e.inode,
                pids,
            })
        })
        .collect();
    for s in &mut out {
        s.pids.sort_unstable();
        s.pids.dedup();
    }
    out.sort_by(|a, b| (&a.path, a.inode).cmp(&(&b.path, b.inode)));
    out
}

/// Established TCP connections, one entry per process holding each: the clients among them show
/// which service an application talks to (a web app and its database on one host).
pub fn connections(processes: &[Process], findings: &mut Vec<Finding>) -> Vec<Connection> {
    let holders = holders(processes);
    let mut out = Vec::new();
    let tcp = [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())];
    for (proto, table) in tcp {
        let Some(entries) = table_or_note(proto, table, findings) else {
            continue;
        };
        for e in entries
            .into_iter()
            .filter(|e| e.state == TcpState::Established)
        {
            for pid in holders.get(&e.inode).into_iter().flatten() {
                out.push(Connection {
                    pid: *pid,
                    local: address(e.local_address),
                    remote: address(e.remote_address),
                });
            }
        }
    }
    out.sort_by(|a, b| (a.pid, &a.remote, &a.local).cmp(&(b.pid, &b.remote, &b.local)));
    out.dedup();
    out
}

/// `1.2.3.4:80`, `[::1]:80`; an IPv4-mapped IPv6 address as its IPv4 form.
fn address(a: SocketAddr) -> String {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{}", v6.port()),
            None => format!("[{}]:{}", v6.ip(), v6.port()),
        },
        SocketAddr::V4(v4) => v4.to_string(),
    }
}

fn table_or_note<T>(
    proto: &str,
    table: procfs::ProcResult<Vec<T>>,
    findings: &mut Vec<Finding>,
) -> Option<Vec<T>> {
    table
        .map_err(|e| {
            // No IPv6 in the kernel means no tcp6 table, which is no problem to report.
            if !matches!(e, procfs::ProcError::NotFound(_)) {
                findings.push(Finding::warning(
                    format!("/proc/net/{proto}"),
                    format!("unreadable: {e}"),
                ));
            }
        })
        .ok()
}

fn socket(proto: &str, local: SocketAddr, inode: u64, uid: u32) -> Socket {
    Socket {
        proto: proto.to_string(),
        address: local.ip().to_string(),
        port: local.port(),
        inode,
        uid,
        pids: Vec::new(),
    }
}

/// Fills `pids` from the descriptors already read: a listening socket is usually shared by a
/// master and its workers, and all of them are listed.
fn join_pids(sockets: &mut [Socket], processes: &[Process]) {
    let holders = holders(processes);
    for s in sockets {
        if let Some(pids) = holders.get(&s.inode) {
            s.pids = pids.clone();
            s.pids.sort_unstable();
            s.pids.dedup();
        }
    }
}

/// Socket inode → the processes holding it open.
fn holders(processes: &[Process]) -> BTreeMap<u64, Vec<i32>> {
    let mut holders: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
    for p in processes {
        for fd in &p.fds {
            if let Some(inode) = socket_inode(&fd.target) {
                holders.entry(inode).or_default().push(p.pid);
            }
        }
    }
    holders
}

fn endpoint(s: &Socket) -> String {
    if s.address.contains(':') {
        format!("[{}]:{}", s.address, s.port)
    } else {
        format!("{}:{}", s.address, s.port)
    }
}

fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}
