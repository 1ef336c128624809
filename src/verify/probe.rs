//! The analyzer's probes as network clients: an HTTP request, a TCP connect, or bytes sent and an
//! answer matched. Each returns what it saw, so two runs can be compared.

use crate::analyze::spec::Probe;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// HTTP status and a digest of the body (bodies can be large; equality is what matters).
    Http {
        status: u16,
        body_sha256: String,
        body_bytes: usize,
    },
    Connected,
    Matched {
        matched: bool,
        answer_head: String,
    },
    Failed(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Http {
                status,
                body_bytes,
                body_sha256,
            } => {
                write!(
                    f,
                    "HTTP {status}, {body_bytes} bytes (sha256 {})",
                    &body_sha256[..12]
                )
            }
            Outcome::Connected => f.write_str("connected"),
            Outcome::Matched {
                matched,
                answer_head,
            } => {
                let verb = if *matched { "matched" } else { "did not match" };
                write!(f, "{verb}: {:?}", answer_head.trim_end())
            }
            Outcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

impl Outcome {
    pub fn ok(&self) -> bool {
        match self {
            Outcome::Http { .. } | Outcome::Connected => true,
            Outcome::Matched { matched, .. } => *matched,
            Outcome::Failed(_) => false,
        }
    }
}

pub fn describe(p: &Probe) -> String {
    if let Some(h) = &p.http {
        format!("http {h}")
    } else if p.tcp.is_some() {
        "tcp connect".to_string()
    } else {
        format!(
            "send {:?} expect /{}/",
            p.send.as_deref().unwrap_or_default(),
            p.expect.as_deref().unwrap_or_default()
        )
    }
}

pub fn run(p: &Probe, addr: SocketAddr) -> Outcome {
    let result = if let Some(h) = &p.http {
        http(addr, h)
    } else if p.tcp.is_some() {
        TcpStream::connect_timeout(&addr, TIMEOUT)
            .map(|_| Outcome::Connected)
            .map_err(|e| e.to_string())
    } else {
        exchange(
            addr,
            p.send.as_deref().unwrap_or_default(),
            p.expect.as_deref().unwrap_or_default(),
        )
    };
    result.unwrap_or_else(Outcome::Failed)
}

/// Repeats a probe until it answers as expected or `deadline` passes: a server may listen before
/// it serves (PostgreSQL replays its WAL first, answering "starting up" meanwhile).
pub fn run_until_ok(p: &Probe, addr: SocketAddr, deadline: std::time::Instant) -> Outcome {
    loop {
        let outcome = run(p, addr);
        if outcome.ok() || std::time::Instant::now() >= deadline {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// An HTTP probe's status and whole body, for comparing answers line by line (see `varying`).
pub fn http_answer(p: &Probe, addr: SocketAddr) -> Option<(u16, Vec<u8>)> {
    http_raw(addr, p.http.as_deref()?).ok()
}

fn http(addr: SocketAddr, request: &str) -> Result<Outcome, String> {
    let (status, body) = http_raw(addr, request)?;
    Ok(Outcome::Http {
        status,
        body_sha256: crate::verify::sha256_hex(&body),
        body_bytes: body.len(),
    })
}

fn http_raw(addr: SocketAddr, request: &str) -> Result<(u16, Vec<u8>), String> {
    let (method, path) = request.split_once(' ').unwrap_or(("GET", request));
    let mut s = connect(addr)?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: liftkit-verify\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut resp)
        .map_err(|e| e.to_string())?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header in the answer")?;
    let status = String::from_utf8_lossy(&resp[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status in the answer")?;
    Ok((status, resp[split + 4..].to_vec()))
}

fn exchange(addr: SocketAddr, send: &str, expect: &str) -> Result<Outcome, String> {
    let re = regex::Regex::new(expect).map_err(|e| e.to_string())?;
    let mut s = connect(addr)?;
    s.write_all(&crate::analyze::facts::unescape_bytes(send))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while answer.len() < 65536 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if re.is_match(&String::from_utf8_lossy(&answer)) {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok(Outcome::Matched {
        matched: re.is_match(&text),
        answer_head: text.chars().take(60).collect(),
    })
}
