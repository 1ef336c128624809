//! A DNS question over TCP (RFC 1035 §4.2.2: a two-byte length, then the message), and the A
//! records of the answer: what the DNS servers of the corpus are asked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// "rcode R: a.b.c.d, …" for `name`'s A records.
pub fn query_a(port: u16, name: &str) -> Result<String, String> {
    let mut msg = vec![0x4c, 0x4b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        msg.push(label.len() as u8);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&msg);
    s.write_all(&framed).map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .map_err(|e| format!("no answer: {e}"))?;
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).map_err(|e| e.to_string())?;
    parse(&reply).ok_or_else(|| "a malformed answer".to_string())
}

fn parse(m: &[u8]) -> Option<String> {
    let rcode = m.get(3)? & 0x0f;
    let answers = u16::from_be_bytes([*m.get(6)?, *m.get(7)?]);
    let mut at = skip_name(m, 12)? + 4;
    let mut addrs = Vec::new();
    for _ in 0..answers {
        at = skip_name(m, at)?;
        let rtype = u16::from_be_bytes([*m.get(at)?, *m.get(at + 1)?]);
        let rdlen = u16::from_be_bytes([*m.get(at + 8)?, *m.get(at + 9)?]) as usize;
        let data = m.get(at + 10..at + 10 + rdlen)?;
        if rtype == 1 && rdlen == 4 {
            addrs.push(format!("{}.{}.{}.{}", data[0], data[1], data[2], data[3]));
        }
        at += 10 + rdlen;
    }
    addrs.sort();
    Some(format!("rcode {rcode}: {}", addrs.join(", ")))
}

fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *m.get(at)?;
        if len & 0xc0 == 0xc0 {
            return Some(at + 2);
        }
        at += 1 + len as usize;
        if len == 0 {
            return Some(at);
        }
    }
}
