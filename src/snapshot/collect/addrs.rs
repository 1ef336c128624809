//! The host's own IPv4 addresses, which applications often bind to or name in their configs.
//!
//! `getifaddrs(3)` asks the kernel over a netlink socket: read-only, nothing spawned, and exact
//! prefixes, where `/proc/net/fib_trie` would need its routing tree reconstructed.

use crate::findings::Finding;
use std::net::Ipv4Addr;

/// `a.b.c.d/len` of every non-loopback interface, sorted and without duplicates.
pub fn ipv4_non_loopback(findings: &mut Vec<Finding>) -> Vec<String> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we own until freeifaddrs; on failure it writes nothing.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        let e = std::io::Error::last_os_error();
        findings.push(Finding::warning(
            "getifaddrs",
            format!("interface addresses unavailable: {e}"),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cursor };
        // SAFETY: ifa_addr and ifa_netmask, when non-null and of family AF_INET, point to
        // sockaddr_in structures owned by the list.
        if let Some(addr) = unsafe { ipv4_of(ifa) } {
            out.push(addr);
        }
        cursor = ifa.ifa_next;
    }
    // SAFETY: head came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    out
}

/// # Safety
/// `ifa` must be a live node of a `getifaddrs` list.
unsafe fn ipv4_of(ifa: &libc::ifaddrs) -> Option<String> {
    if ifa.ifa_addr.is_null() || ifa.ifa_flags & libc::IFF_LOOPBACK as u32 != 0 {
        return None;
    }
    if i32::from((*ifa.ifa_addr).sa_family) != libc::AF_INET {
        return None;
    }
    let addr = sockaddr_ipv4(ifa.ifa_addr);
    if addr.is_loopback() {
        return None;
    }
    let prefix = if ifa.ifa_netmask.is_null() {
        32
    } else {
        u32::from(sockaddr_ipv4(ifa.ifa_netmask)).count_ones()
    };
    Some(format!("{addr}/{prefix}"))
}

/// # Safety
/// `sa` must point to a `sockaddr_in`.
unsafe fn sockaddr_ipv4(sa: *const libc::sockaddr) -> Ipv4Addr {
    let sin = &*(sa as *const libc::sockaddr_in);
    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
}
