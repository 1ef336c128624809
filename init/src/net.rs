//! The network: loopback up, then eth0 from DHCP (init's own client, `dhcp`) or, when the kernel
//! command line gives `liftkit.ip=`, a static address and default route; resolv.conf for the
//! containers either way. Through the classic ioctls (no netlink, no tools in the image).

use crate::cmdline::{netmask, Boot};
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

pub const IFACE: &str = "eth0";
/// The system's /etc/resolv.conf is a link here (the root is read-only).
pub const RESOLV_CONF: &str = "/run/resolv.conf";

#[repr(C)]
pub struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    pub data: [u8; 24],
}

impl IfReq {
    pub fn new(name: &str) -> IfReq {
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            data: [0; 24],
        };
        let n = name.len().min(libc::IFNAMSIZ - 1);
        r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        r
    }

    fn set_addr(&mut self, addr: Ipv4Addr) {
        let sa = sockaddr_in(addr);
        // SAFETY: sockaddr_in is 16 bytes, the union is 24: a plain byte copy.
        let bytes: [u8; 16] = unsafe { std::mem::transmute(sa) };
        self.data[..16].copy_from_slice(&bytes);
    }
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr {
    // SAFETY: sockaddr_in and sockaddr are both 16 bytes; this is how the API is meant to be used.
    unsafe { std::mem::transmute(sockaddr_in(addr)) }
}

pub struct Socket(libc::c_int);

impl Socket {
    pub fn new() -> io::Result<Socket> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        crate::sys::check(fd)?;
        Ok(Socket(fd))
    }

    pub fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> io::Result<()> {
        // SAFETY: arg points to the struct the request expects (ifreq or rtentry).
        crate::sys::check(unsafe { libc::ioctl(self.0, request as _, arg as *mut T) })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: our own fd.
        unsafe { libc::close(self.0) };
    }
}

fn up(sock: &Socket, name: &str) -> io::Result<()> {
    let mut req = IfReq::new(name);
    sock.ioctl(libc::SIOCGIFFLAGS, &mut req)?;
    let flags = i16::from_ne_bytes([req.data[0], req.data[1]]) | (libc::IFF_UP as i16);
    req.data[..2].copy_from_slice(&flags.to_ne_bytes());
    sock.ioctl(libc::SIOCSIFFLAGS, &mut req)
}

/// Waits until the interface reports carrier (/sys/class/net/IFACE/carrier is 1), at most
/// `wait`; false when it did not.
pub fn wait_for_carrier(iface: &str, wait: Duration) -> bool {
    let path = format!("/sys/class/net/{iface}/carrier");
    let deadline = Instant::now() + wait;
    loop {
        if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == "1") {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `configure` set up.
pub struct Network {
    pub summary: String,
    /// eth0's address, when it has one.
    pub addr: Option<Ipv4Addr>,
}

pub fn configure(boot: &Boot, hostname: Option<&str>) -> io::Result<Network> {
    let sock = Socket::new()?;
    up(&sock, "lo").map_err(|e| io::Error::new(e.kind(), format!("lo up: {e}")))?;
    // The virtio device registers when its driver loads; give it a moment under emulation.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut req = IfReq::new(IFACE);
    while sock.ioctl(libc::SIOCGIFFLAGS, &mut req).is_err() {
        if Instant::now() > deadline {
            let _ = write_resolv_conf(&[], None);
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no eth0: is virtio_net loaded?",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some((addr, prefix)) = boot.ip else {
        up(&sock, IFACE)?;
        let renew = boot.dhcp_renew.map(Duration::from_secs);
        let lease = crate::dhcp::start(IFACE, hostname, renew)?;
        return Ok(Network {
            summary: format!("{IFACE} {} (DHCP)", lease.describe()),
            addr: Some(lease.addr),
        });
    };
    set_address(IFACE, addr, prefix)?;
    let mut summary = format!("{IFACE} {addr}/{prefix}");
    if let Some(gw) = boot.gateway {
        default_route(gw)?;
        summary.push_str(&format!(" via {gw}"));
    }
    write_resolv_conf(&boot.dns, None)?;
    Ok(Network {
        summary,
        addr: Some(addr),
    })
}

/// Sets the interface's address and netmask and brings it up.
pub fn set_address(iface: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
    let sock = Socket::new()?;
    let mut req = IfReq::new(iface);
    req.set_addr(addr);
    sock.ioctl(libc::SIOCSIFADDR, &mut req)
        .map_err(|e| io::Error::new(e.kind(), format!("address {addr} on {iface}: {e}")))?;
    let mut req = IfReq::new(iface);
    req.set_addr(netmask(prefix));
    sock.ioctl(libc::SIOCSIFNETMASK, &mut req)?;
    up(&sock, iface)
}

/// Adds the default route; one that is already there is fine (a renewed lease).
pub fn default_route(gw: Ipv4Addr) -> io::Result<()> {
    let sock = Socket::new()?;
    // SAFETY: rtentry is plain data; zero is its documented empty value.
    let mut rt: libc::rtentry = unsafe { std::mem::zeroed() };
    rt.rt_dst = sockaddr(Ipv4Addr::UNSPECIFIED);
    rt.rt_genmask = sockaddr(Ipv4Addr::UNSPECIFIED);
    rt.rt_gateway = sockaddr(gw);
    rt.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
    match sock.ioctl(libc::SIOCADDRT, &mut rt) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r.map_err(|e| io::Error::new(e.kind(), format!("default route via {gw}: {e}"))),
    }
}

/// The interface's MAC address and index, for the DHCP client's packet socket.
pub fn link(iface: &str) -> io::Result<([u8; 6], i32)> {
    let sock = Socket::new()?;
    let mut req = IfReq::new(iface);
    sock.ioctl(libc::SIOCGIFHWADDR, &mut req)?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&req.data[2..8]); // after sa_family
    let mut req = IfReq::new(iface);
    sock.ioctl(libc::SIOCGIFINDEX, &mut req)?;
    let index = i32::from_ne_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]);
    Ok((mac, index))
}

/// Writes resolv.conf in place: the containers bind-mount it, and a bind mount keeps the inode a
/// rename would replace.
pub fn write_resolv_conf(dns: &[Ipv4Addr], domain: Option<&str>) -> io::Result<()> {
    use std::io::Write;
    let mut text = String::from("# written by liftkit-init\n");
    if let Some(d) = domain {
        text.push_str(&format!("search {d}\n"));
    }
    for s in dns {
        text.push_str(&format!("nameserver {s}\n"));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(RESOLV_CONF)?;
    f.write_all(text.as_bytes())
}
