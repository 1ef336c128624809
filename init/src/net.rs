//! The network: loopback up, eth0 with the static address of the kernel command line and a
//! default route, through the classic ioctls (no netlink, no tools in the image).

use crate::cmdline::{netmask, Boot};
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> IfReq {
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

struct Socket(libc::c_int);

impl Socket {
    fn new() -> io::Result<Socket> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        crate::sys::check(fd)?;
        Ok(Socket(fd))
    }

    fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> io::Result<()> {
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

pub fn configure(boot: &Boot) -> io::Result<String> {
    let sock = Socket::new()?;
    up(&sock, "lo").map_err(|e| io::Error::new(e.kind(), format!("lo up: {e}")))?;
    let Some((addr, prefix)) = boot.ip else {
        return Ok("loopback only (no liftkit.ip= on the kernel command line)".to_string());
    };
    // The virtio device registers when its driver loads; give it a moment under emulation.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut req = IfReq::new("eth0");
    while sock.ioctl(libc::SIOCGIFFLAGS, &mut req).is_err() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no eth0: is virtio_net loaded?",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut req = IfReq::new("eth0");
    req.set_addr(addr);
    sock.ioctl(libc::SIOCSIFADDR, &mut req)?;
    let mut req = IfReq::new("eth0");
    req.set_addr(netmask(prefix));
    sock.ioctl(libc::SIOCSIFNETMASK, &mut req)?;
    up(&sock, "eth0")?;
    let mut summary = format!("eth0 {addr}/{prefix}");
    if let Some(gw) = boot.gateway {
        // SAFETY: rtentry is plain data; zero is its documented empty value.
        let mut rt: libc::rtentry = unsafe { std::mem::zeroed() };
        rt.rt_dst = sockaddr(Ipv4Addr::UNSPECIFIED);
        rt.rt_genmask = sockaddr(Ipv4Addr::UNSPECIFIED);
        rt.rt_gateway = sockaddr(gw);
        rt.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
        sock.ioctl(libc::SIOCADDRT, &mut rt)
            .map_err(|e| io::Error::new(e.kind(), format!("default route via {gw}: {e}")))?;
        summary.push_str(&format!(" via {gw}"));
    }
    Ok(summary)
}
