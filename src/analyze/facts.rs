//! Live, read-only questions to running applications, asked at collect time (redis `INFO server`
//! names the configuration file its rewritten command line hides).

use super::spec::Analyzer;
use crate::snapshot::{Fact, Snapshot};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_ANSWER: u64 = 256 << 10;

pub fn gather(snapshot: &Snapshot, analyzers: &[Analyzer]) -> Vec<Fact> {
    use rayon::prelude::*;
    let mut questions = Vec::new();
    for cand in super::candidates(snapshot, analyzers) {
        let Some(analyzer) = analyzers
            .iter()
            .find(|a| Some(&a.id) == cand.analyzer.as_ref())
        else {
            continue;
        };
        let Some(addr) = snapshot
            .sockets_of(&cand.pids)
            .find(|s| s.proto == "tcp" || s.proto == "tcp6")
            .map(|s| loopback_for(&s.address, s.port))
        else {
            continue;
        };
        for q in &analyzer.facts {
            questions.push((cand.root_pid(), analyzer, addr, q));
        }
    }
    // Asked side by side: a server that accepts and never answers costs one timeout, not one
    // per question.
    questions
        .par_iter()
        .filter_map(|(pid, analyzer, addr, q)| {
            ask(*addr, q).map(|value| Fact {
                pid: *pid,
                analyzer: analyzer.id.clone(),
                name: q.name.clone(),
                value,
            })
        })
        .collect()
}

/// A wildcard listener is reached on loopback; a specific address on itself.
fn loopback_for(address: &str, port: u16) -> SocketAddr {
    let ip = match address {
        "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        a => a,
    };
    ip.parse()
        .map(|ip| SocketAddr::new(ip, port))
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)))
}

fn ask(addr: SocketAddr, q: &super::spec::FactQuery) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(TIMEOUT)).ok()?;
    stream.write_all(&unescape_bytes(&q.send)).ok()?;
    let re = regex::Regex::new(&q.regex).ok()?;
    let refused = q.error.as_deref().and_then(|e| regex::Regex::new(e).ok());
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let mut reader = (&mut stream).take(MAX_ANSWER);
    // Read until the pattern matches or the peer stops talking: protocols like redis keep the
    // connection open after answering.
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some(c) = re.captures(&text) {
                    return c
                        .name("v")
                        .or_else(|| c.get(1))
                        .map(|m| m.as_str().to_string());
                }
                if refused.as_ref().is_some_and(|r| r.is_match(&text)) {
                    return None;
                }
            }
        }
    }
    None
}

/// `\r`, `\n` and `\t` in analyzer strings, as people write protocol lines.
pub fn unescape(s: &str) -> String {
    s.replace("\\r", "\r")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
}

/// The bytes an analyzer's `send` string stands for: `\r`, `\n`, `\t`, `\\` and `\xNN` (binary
/// protocols such as PostgreSQL's start with length words). Anything else stays as written.
pub fn unescape_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let (b, used) = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'r')) => (b'\r', 2),
            (b'\\', Some(b'n')) => (b'\n', 2),
            (b'\\', Some(b't')) => (b'\t', 2),
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'x')) => match bytes.get(i + 2..i + 4) {
                Some(h) if h.iter().all(u8::is_ascii_hexdigit) => {
                    (hex_value(h[0]) << 4 | hex_value(h[1]), 4)
                }
                _ => (b'\\', 1),
            },
            (b, _) => (b, 1),
        };
        out.push(b);
        i += used;
    }
    out
}

fn hex_value(digit: u8) -> u8 {
    (digit as char).to_digit(16).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_strings_carry_binary_bytes() {
        assert_eq!(unescape_bytes("PING\\r\\n"), b"PING\r\n");
        assert_eq!(
            unescape_bytes("\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f"),
            [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
        );
        // Not an escape: kept as written, never a panic on a short or non-hex tail.
        assert_eq!(unescape_bytes("a\\xZ1\\x+1\\x4"), b"a\\xZ1\\x+1\\x4");
        assert_eq!(unescape_bytes("\\\\n"), b"\\n");
        assert_eq!(unescape_bytes("é\\x41"), "éA".as_bytes());
    }
}
