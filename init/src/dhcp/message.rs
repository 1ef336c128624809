//! DHCP messages (RFC 2131, options RFC 2132) and the IPv4/UDP framing a client needs before it
//! has an address: pure functions, no sockets, so every byte is unit-tested.

use std::net::Ipv4Addr;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
/// The fixed BOOTP part before the options.
const FIXED: usize = 236;

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;

const OPT_SUBNET: u8 = 1;
const OPT_ROUTER: u8 = 3;
const OPT_DNS: u8 = 6;
const OPT_HOSTNAME: u8 = 12;
const OPT_DOMAIN: u8 = 15;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE: u8 = 51;
const OPT_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_PARAMS: u8 = 55;
const OPT_T1: u8 = 58;
const OPT_T2: u8 = 59;
const OPT_CLIENT_ID: u8 = 61;
const OPT_END: u8 = 255;
const OPT_PAD: u8 = 0;

/// What the client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: u8,
    pub xid: u32,
    pub mac: [u8; 6],
    /// Our address while renewing or rebinding (RFC 2131 4.3.2), else unspecified.
    pub ciaddr: Ipv4Addr,
    /// Option 50 and 54 in the SELECTING state's REQUEST.
    pub requested: Option<Ipv4Addr>,
    pub server: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    /// Ask the server to broadcast its answer: we cannot receive unicast without an address.
    pub broadcast: bool,
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: u8,
    pub xid: u32,
    pub yiaddr: Ipv4Addr,
    pub server: Option<Ipv4Addr>,
    pub subnet: Option<Ipv4Addr>,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub hostname: Option<String>,
    pub domain: Option<String>,
    pub lease_secs: Option<u32>,
    pub t1_secs: Option<u32>,
    pub t2_secs: Option<u32>,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            kind: 0,
            xid: 0,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            server: None,
            subnet: None,
            router: None,
            dns: Vec::new(),
            hostname: None,
            domain: None,
            lease_secs: None,
            t1_secs: None,
            t2_secs: None,
        }
    }
}

impl Default for Request {
    fn default() -> Self {
        Request {
            kind: DISCOVER,
            xid: 0,
            mac: [0; 6],
            ciaddr: Ipv4Addr::UNSPECIFIED,
            requested: None,
            server: None,
            hostname: None,
            broadcast: true,
        }
    }
}

pub fn encode(r: &Request) -> Vec<u8> {
    let mut b = vec![0u8; FIXED];
    b[0] = 1; // BOOTREQUEST
    b[1] = 1; // Ethernet
    b[2] = 6;
    b[4..8].copy_from_slice(&r.xid.to_be_bytes());
    if r.broadcast {
        b[10] = 0x80;
    }
    b[12..16].copy_from_slice(&r.ciaddr.octets());
    b[28..34].copy_from_slice(&r.mac);
    b.extend_from_slice(&COOKIE);
    let mut opt = |code: u8, value: &[u8]| {
        b.push(code);
        b.push(value.len() as u8);
        b.extend_from_slice(value);
    };
    opt(OPT_TYPE, &[r.kind]);
    let mut id = vec![1u8];
    id.extend_from_slice(&r.mac);
    opt(OPT_CLIENT_ID, &id);
    if let Some(a) = r.requested {
        opt(OPT_REQUESTED_IP, &a.octets());
    }
    if let Some(s) = r.server {
        opt(OPT_SERVER_ID, &s.octets());
    }
    if let Some(h) = &r.hostname {
        let h = &h.as_bytes()[..h.len().min(255)];
        opt(OPT_HOSTNAME, h);
    }
    opt(
        OPT_PARAMS,
        &[
            OPT_SUBNET,
            OPT_ROUTER,
            OPT_DNS,
            OPT_HOSTNAME,
            OPT_DOMAIN,
            OPT_LEASE,
            OPT_T1,
            OPT_T2,
        ],
    );
    b.push(OPT_END);
    // Some relays drop BOOTP messages under the historical 300-byte minimum.
    if b.len() < 300 {
        b.resize(300, 0);
    }
    b
}

/// A server's answer to `xid` for `mac`, or None for anything else (another client's, garbage).
pub fn decode(b: &[u8], xid: u32, mac: &[u8; 6]) -> Option<Reply> {
    if b.len() < FIXED + 4 || b[0] != 2 || b[4..8] != xid.to_be_bytes() || &b[28..34] != mac {
        return None;
    }
    if b[FIXED..FIXED + 4] != COOKIE {
        return None;
    }
    let mut r = Reply {
        xid,
        yiaddr: addr(&b[16..20])?,
        ..Reply::default()
    };
    let mut i = FIXED + 4;
    while i < b.len() {
        let code = b[i];
        if code == OPT_END {
            break;
        }
        if code == OPT_PAD {
            i += 1;
            continue;
        }
        let len = *b.get(i + 1)? as usize;
        let v = b.get(i + 2..i + 2 + len)?;
        match code {
            OPT_TYPE => r.kind = *v.first()?,
            OPT_SERVER_ID => r.server = addr(v),
            OPT_SUBNET => r.subnet = addr(v),
            OPT_ROUTER => r.router = addr(v),
            OPT_DNS => r.dns = v.chunks_exact(4).filter_map(addr).collect(),
            OPT_HOSTNAME => r.hostname = text(v),
            OPT_DOMAIN => r.domain = text(v),
            OPT_LEASE => r.lease_secs = secs(v),
            OPT_T1 => r.t1_secs = secs(v),
            OPT_T2 => r.t2_secs = secs(v),
            _ => {}
        }
        i += 2 + len;
    }
    (r.kind != 0).then_some(r)
}

fn addr(v: &[u8]) -> Option<Ipv4Addr> {
    let o: [u8; 4] = v.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn secs(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// Option text as a name init can use: printable ASCII only, no trailing NUL.
fn text(v: &[u8]) -> Option<String> {
    let s: String = v
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_graphic())).then_some(s)
}

/// Prefix length of a netmask (255.255.255.0 → 24), None when it is not contiguous.
pub fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// An IPv4 + UDP datagram from `src`:68 to `dst`:67 around `payload` (for a packet socket).
pub fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0x10]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id, DF, TTL 64, UDP, checksum later
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    p.extend_from_slice(&SERVER_PORT.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no UDP checksum: allowed over IPv4 (RFC 768)
    p.extend_from_slice(payload);
    p
}

/// The UDP payload of an IPv4 datagram to port 68, or None.
pub fn udp_payload(packet: &[u8]) -> Option<&[u8]> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    if packet[0] >> 4 != 4 || ihl < 20 || *packet.get(9)? != 17 {
        return None;
    }
    let udp = packet.get(ihl..)?;
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    if dport != CLIENT_PORT || len < 8 {
        return None;
    }
    udp.get(8..len)
}

/// The Internet checksum (RFC 1071).
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    /// A server's reply as qemu's built-in DHCP server writes one.
    fn reply(kind: u8, xid: u32) -> Vec<u8> {
        let mut b = vec![0u8; FIXED];
        b[0] = 2;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&xid.to_be_bytes());
        b[16..20].copy_from_slice(&[10, 0, 2, 15]);
        b[28..34].copy_from_slice(&MAC);
        b.extend_from_slice(&COOKIE);
        b.extend_from_slice(&[53, 1, kind, 54, 4, 10, 0, 2, 2, 1, 4, 255, 255, 255, 0]);
        b.extend_from_slice(&[3, 4, 10, 0, 2, 2, 6, 8, 10, 0, 2, 3, 1, 1, 1, 1]);
        b.extend_from_slice(&[51, 4, 0, 1, 0x51, 0x80, 0, 0, 12, 4, b'w', b'e', b'b', 0]);
        b.extend_from_slice(&[15, 7, b'e', b'x', b'.', b't', b'e', b's', b't', 255, 0, 0]);
        b
    }

    #[test]
    fn discover_has_the_fields_a_server_reads() {
        let b = encode(&Request {
            xid: 0xdeadbeef,
            mac: MAC,
            hostname: Some("nginx".into()),
            ..Request::default()
        });
        assert_eq!(b.len(), 300);
        assert_eq!((b[0], b[1], b[2]), (1, 1, 6));
        assert_eq!(b[4..8], [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(b[10], 0x80, "broadcast flag");
        assert_eq!(&b[28..34], &MAC);
        assert_eq!(b[236..240], COOKIE);
        assert_eq!(b[240..243], [53, 1, DISCOVER]);
        let opts = &b[243..];
        assert!(opts
            .windows(7)
            .any(|w| w == [12, 5, b'n', b'g', b'i', b'n', b'x']));
        assert!(
            !opts.windows(2).any(|w| w[0] == 50 && w[1] == 4),
            "no requested ip"
        );
    }

    #[test]
    fn request_in_selecting_and_renewing_states() {
        let sel = encode(&Request {
            kind: REQUEST,
            xid: 1,
            mac: MAC,
            requested: Some(Ipv4Addr::new(10, 0, 2, 15)),
            server: Some(Ipv4Addr::new(10, 0, 2, 2)),
            ..Request::default()
        });
        assert!(sel.windows(6).any(|w| w == [50, 4, 10, 0, 2, 15]));
        assert!(sel.windows(6).any(|w| w == [54, 4, 10, 0, 2, 2]));
        let renew = encode(&Request {
            kind: REQUEST,
            xid: 2,
            mac: MAC,
            ciaddr: Ipv4Addr::new(10, 0, 2, 15),
            broadcast: false,
            ..Request::default()
        });
        assert_eq!(renew[12..16], [10, 0, 2, 15], "ciaddr while renewing");
        assert_eq!(renew[10], 0);
        assert!(
            !renew[240..].windows(2).any(|w| w == [54, 4]),
            "no server id"
        );
    }

    #[test]
    fn reads_an_ack() {
        let r = decode(&reply(ACK, 7), 7, &MAC).unwrap();
        assert_eq!(r.kind, ACK);
        assert_eq!(r.yiaddr, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(r.server, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(prefix_len(r.subnet.unwrap()), Some(24));
        assert_eq!(r.router, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(
            r.dns,
            [Ipv4Addr::new(10, 0, 2, 3), Ipv4Addr::new(1, 1, 1, 1)]
        );
        assert_eq!(r.lease_secs, Some(86400));
        assert_eq!(r.hostname.as_deref(), Some("web"));
        assert_eq!(r.domain.as_deref(), Some("ex.test"));
    }

    #[test]
    fn ignores_other_transactions_and_truncated_options() {
        assert!(decode(&reply(ACK, 7), 8, &MAC).is_none(), "another xid");
        assert!(
            decode(&reply(ACK, 7), 7, &[0; 6]).is_none(),
            "another client"
        );
        let mut cut = reply(OFFER, 7);
        cut.truncate(FIXED + 4 + 7); // inside the server id option
        assert!(decode(&cut, 7, &MAC).is_none(), "a cut option is not read");
        assert!(decode(&[2u8; 100], 7, &MAC).is_none());
    }

    #[test]
    fn frames_and_unframes_udp() {
        let f = udp_frame(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, b"hello");
        assert_eq!(f.len(), 33);
        assert_eq!(checksum(&f[..20]), 0, "a valid IPv4 header checksum");
        // The same datagram, addressed to the client's port.
        let mut back = f.clone();
        back[20..24].copy_from_slice(&[0, 67, 0, 68]);
        assert_eq!(udp_payload(&back), Some(&b"hello"[..]));
        assert_eq!(udp_payload(&f), None, "to the server's port, not ours");
        assert_eq!(prefix_len(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_len(Ipv4Addr::UNSPECIFIED), Some(0));
    }
}
