//! A DHCP client (RFC 2131) for eth0 when the command line gives no address: DISCOVER → OFFER →
//! REQUEST → ACK, then a thread that renews the lease at T1 (unicast to the server), rebinds at
//! T2 (broadcast) and starts over when it runs out. The lease's router becomes the default route,
//! its name servers and domain go into resolv.conf, and init's hostname goes to the server
//! (option 12); the server's name is taken only when init has none.
//!
//! Before it has an address the client cannot use a UDP socket (the kernel drops datagrams for
//! an address it does not have), so the first exchange goes through a packet socket carrying
//! IPv4/UDP frames it builds itself (`message`); renewals use an ordinary UDP socket.

mod message;

use crate::{log, net, warn};
use message::{Reply, Request, ACK, DISCOVER, NAK, OFFER, REQUEST};
use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

/// How long the first lease may take before boot goes on without one (and keeps trying).
const FIRST_LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Lease {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub hostname: Option<String>,
    pub server: Ipv4Addr,
    pub length: Duration,
    pub t1: Duration,
    pub t2: Duration,
    pub obtained: Instant,
}

impl Lease {
    fn from_reply(r: &Reply, server: Ipv4Addr) -> Lease {
        let length = Duration::from_secs(u64::from(r.lease_secs.unwrap_or(3600)));
        let t1 = r
            .t1_secs
            .map_or(length / 2, |s| Duration::from_secs(u64::from(s)));
        let t2 = r
            .t2_secs
            .map_or(length * 7 / 8, |s| Duration::from_secs(u64::from(s)));
        Lease {
            addr: r.yiaddr,
            prefix: r.subnet.and_then(message::prefix_len).unwrap_or(24),
            router: r.router,
            dns: r.dns.clone(),
            domain: r.domain.clone(),
            hostname: r.hostname.clone(),
            server,
            length,
            t1: t1.min(length),
            t2: t2.clamp(t1.min(length), length),
            obtained: Instant::now(),
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{}/{}", self.addr, self.prefix);
        if let Some(r) = self.router {
            s.push_str(&format!(" via {r}"));
        }
        s.push_str(&format!(
            ", lease {}s from {}",
            self.length.as_secs(),
            self.server
        ));
        if !self.dns.is_empty() {
            let dns: Vec<String> = self.dns.iter().map(|d| d.to_string()).collect();
            s.push_str(&format!(", dns {}", dns.join(" ")));
        }
        s
    }
}

struct Client {
    iface: String,
    index: i32,
    mac: [u8; 6],
    hostname: Option<String>,
}

/// Gets the first lease, applies it, and leaves a thread keeping it. `renew` overrides T1.
pub fn start(iface: &str, hostname: Option<&str>, renew: Option<Duration>) -> io::Result<Lease> {
    let (mac, index) = net::link(iface)?;
    let client = Client {
        iface: iface.to_string(),
        index,
        mac,
        hostname: hostname.map(str::to_string),
    };
    let _ = net::write_resolv_conf(&[], None);
    let first = client.acquire(Instant::now() + FIRST_LEASE);
    let lease = match first {
        Ok(l) => l,
        Err(e) => {
            std::thread::spawn(move || client.keep(None, renew));
            return Err(io::Error::new(
                e.kind(),
                format!("DHCP on {iface}: {e} (still trying in the background)"),
            ));
        }
    };
    client.apply(&lease)?;
    let kept = lease.clone();
    std::thread::spawn(move || client.keep(Some(kept), renew));
    Ok(lease)
}

impl Client {
    fn request(&self, kind: u8, xid: u32) -> Request {
        Request {
            kind,
            xid,
            mac: self.mac,
            hostname: self.hostname.clone(),
            ..Request::default()
        }
    }

    /// DISCOVER → OFFER → REQUEST → ACK, retrying with backoff until `deadline`.
    fn acquire(&self, deadline: Instant) -> io::Result<Lease> {
        let sock = PacketSocket::open(self.index)?;
        // A DISCOVER sent before the link has carrier is lost: wait for it a moment.
        net::wait_for_carrier(&self.iface, Duration::from_secs(2));
        // Servers on the same link answer in milliseconds: the first retry comes soon, then
        // the interval doubles up to RFC 2131's 8 s (4.1).
        let mut wait = Duration::from_millis(500);
        loop {
            let xid = random_u32();
            sock.send(&message::encode(&self.request(DISCOVER, xid)))?;
            if let Some(offer) = sock.receive(xid, &self.mac, wait, &[OFFER])? {
                if let Some(server) = offer.server {
                    let mut req = self.request(REQUEST, xid);
                    req.requested = Some(offer.yiaddr);
                    req.server = Some(server);
                    sock.send(&message::encode(&req))?;
                    match sock.receive(xid, &self.mac, wait, &[ACK, NAK])? {
                        Some(ack) if ack.kind == ACK => return Ok(Lease::from_reply(&ack, server)),
                        Some(_) => warn(&format!("dhcp: {server} refused {}", offer.yiaddr)),
                        None => {}
                    }
                }
            }
            if Instant::now() + wait > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no DHCP server answered",
                ));
            }
            wait = (wait * 2).min(Duration::from_secs(8));
        }
    }

    /// Renewing (unicast to the server) or rebinding (broadcast to any): the same REQUEST with
    /// our address in ciaddr and no server id (RFC 2131 4.3.2).
    fn extend(&self, lease: &Lease, rebind: bool) -> io::Result<Option<Reply>> {
        let xid = random_u32();
        let mut req = self.request(REQUEST, xid);
        req.ciaddr = lease.addr;
        req.broadcast = rebind;
        let bytes = message::encode(&req);
        let wait = Duration::from_secs(4);
        if rebind {
            let sock = PacketSocket::open(self.index)?;
            sock.send_from(lease.addr, &bytes)?;
            return sock.receive(xid, &self.mac, wait, &[ACK, NAK]);
        }
        // Bound to any address: servers (qemu's among them) may broadcast the answer.
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, message::CLIENT_PORT))?;
        sock.send_to(&bytes, (lease.server, message::SERVER_PORT))?;
        sock.set_read_timeout(Some(wait))?;
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            let Ok(n) = sock.recv(&mut buf) else {
                break;
            };
            if let Some(r) = message::decode(&buf[..n], xid, &self.mac) {
                if r.kind == ACK || r.kind == NAK {
                    return Ok(Some(r));
                }
            }
        }
        Ok(None)
    }

    fn apply(&self, lease: &Lease) -> io::Result<()> {
        net::set_address(&self.iface, lease.addr, lease.prefix)?;
        if let Some(r) = lease.router {
            net::default_route(r)?;
        }
        net::write_resolv_conf(&lease.dns, lease.domain.as_deref())?;
        if self.hostname.is_none() {
            if let Some(h) = &lease.hostname {
                let _ = crate::sys::sethostname(h);
            }
        }
        Ok(())
    }

    /// The lease's life: renew at T1, rebind at T2, start over when it ends.
    fn keep(self, mut lease: Option<Lease>, mut renew: Option<Duration>) {
        loop {
            let Some(current) = lease.clone() else {
                match self.acquire(Instant::now() + Duration::from_secs(60)) {
                    Ok(l) => match self.apply(&l) {
                        Ok(()) => {
                            log(&format!("dhcp: {} {}", self.iface, l.describe()));
                            lease = Some(l);
                        }
                        Err(e) => warn(&format!("dhcp: applying the lease: {e}")),
                    },
                    Err(e) => warn(&format!("dhcp: {e}; trying again")),
                }
                continue;
            };
            // The override is for the first renewal only (tests, debugging), then the server's T1.
            let t1 = renew.take().unwrap_or(current.t1).min(current.t2);
            let at = |d: Duration| current.obtained + d;
            sleep_until(at(t1));
            lease = None;
            while Instant::now() < at(current.length) {
                let rebind = Instant::now() >= at(current.t2);
                match self.extend(&current, rebind) {
                    Ok(Some(r)) if r.kind == ACK => {
                        let l = Lease::from_reply(&r, r.server.unwrap_or(current.server));
                        if let Err(e) = self.apply(&l) {
                            warn(&format!("dhcp: applying the renewed lease: {e}"));
                        }
                        log(&format!(
                            "dhcp: {} lease {} {} ({}s)",
                            self.iface,
                            if rebind { "rebound" } else { "renewed" },
                            l.addr,
                            l.length.as_secs()
                        ));
                        lease = Some(l);
                        break;
                    }
                    Ok(Some(_)) => {
                        warn(&format!(
                            "dhcp: {} refused to extend the lease",
                            current.server
                        ));
                        break;
                    }
                    Ok(None) => warn(&format!(
                        "dhcp: no answer from {} to extend the lease",
                        if rebind {
                            Ipv4Addr::BROADCAST
                        } else {
                            current.server
                        }
                    )),
                    Err(e) => warn(&format!("dhcp: extending the lease: {e}")),
                }
                // RFC 2131: retry at half the remaining time, at least a minute apart.
                let left = at(current.length).saturating_duration_since(Instant::now());
                std::thread::sleep((left / 2).max(Duration::from_secs(60)).min(left));
            }
            if lease.is_none() {
                warn(&format!(
                    "dhcp: lease of {} ended: asking again",
                    current.addr
                ));
            }
        }
    }
}

fn sleep_until(t: Instant) {
    let d = t.saturating_duration_since(Instant::now());
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // A transaction id needs no secrecy: without GRND_INSECURE, getrandom waits for the kernel's
    // random pool, which under emulation fills seconds after boot.
    // SAFETY: the buffer is valid for its length; getrandom fills it or fails.
    let n = unsafe {
        libc::getrandom(
            b.as_mut_ptr() as *mut libc::c_void,
            4,
            libc::GRND_INSECURE | libc::GRND_NONBLOCK,
        )
    };
    if n != 4 {
        return std::process::id() ^ (Instant::now().elapsed().subsec_nanos());
    }
    u32::from_ne_bytes(b)
}

/// An AF_PACKET socket on one interface, carrying IPv4 datagrams (the kernel adds Ethernet).
struct PacketSocket {
    fd: libc::c_int,
    index: i32,
}

impl PacketSocket {
    fn open(index: i32) -> io::Result<PacketSocket> {
        let proto = (libc::ETH_P_IP as u16).to_be();
        // SAFETY: plain syscall.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        crate::sys::check(fd)?;
        let sock = PacketSocket { fd, index };
        let addr = sock.link_addr();
        // SAFETY: addr is a valid sockaddr_ll of the given size.
        crate::sys::check(unsafe {
            libc::bind(
                fd,
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(sock)
    }

    fn link_addr(&self) -> libc::sockaddr_ll {
        // SAFETY: sockaddr_ll is plain data.
        let mut a: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        a.sll_family = libc::AF_PACKET as u16;
        a.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        a.sll_ifindex = self.index;
        a.sll_halen = 6;
        a.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        a
    }

    fn send(&self, dhcp: &[u8]) -> io::Result<()> {
        self.send_from(Ipv4Addr::UNSPECIFIED, dhcp)
    }

    /// Broadcasts `dhcp` from `src`:68 to 255.255.255.255:67.
    fn send_from(&self, src: Ipv4Addr, dhcp: &[u8]) -> io::Result<()> {
        let frame = message::udp_frame(src, Ipv4Addr::BROADCAST, dhcp);
        let addr = self.link_addr();
        // SAFETY: the buffer and the address are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The first reply of one of `kinds` to `xid` within `wait`.
    fn receive(
        &self,
        xid: u32,
        mac: &[u8; 6],
        wait: Duration,
        kinds: &[u8],
    ) -> io::Result<Option<Reply>> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 1600];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(None);
            }
            // SAFETY: the buffer is valid for its length.
            let got =
                unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if got <= 0 {
                continue;
            }
            let Some(payload) = message::udp_payload(&buf[..got as usize]) else {
                continue;
            };
            if let Some(r) = message::decode(payload, xid, mac) {
                if kinds.contains(&r.kind) {
                    return Ok(Some(r));
                }
            }
        }
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: our own fd.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_times_default_and_stay_ordered() {
        let r = Reply {
            kind: ACK,
            yiaddr: Ipv4Addr::new(10, 0, 2, 15),
            lease_secs: Some(86400),
            ..Reply::default()
        };
        let l = Lease::from_reply(&r, Ipv4Addr::new(10, 0, 2, 2));
        assert_eq!(l.t1, Duration::from_secs(43200));
        assert_eq!(l.t2, Duration::from_secs(75600));
        assert_eq!(l.prefix, 24, "no subnet option: a /24");
        let odd = Reply {
            t1_secs: Some(900),
            t2_secs: Some(100),
            lease_secs: Some(600),
            ..r
        };
        let l = Lease::from_reply(&odd, Ipv4Addr::new(10, 0, 2, 2));
        assert!(l.t1 <= l.t2 && l.t2 <= l.length, "{l:?}");
        assert!(l
            .describe()
            .starts_with("10.0.2.15/24, lease 600s from 10.0.2.2"));
    }
}
