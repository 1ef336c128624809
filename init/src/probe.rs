//! `liftkit-init probe tcp PORT` and `liftkit-init probe http PORT PATH`: the health check
//! compose.yaml runs inside the app's container (mounted from the build's output, so the image
//! stays as it was built). Exit 0 when the app answers: a TCP connect, or an HTTP status below
//! 400; 1 otherwise.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(args: &[String]) -> i32 {
    let result = match args {
        [kind, port] if kind == "tcp" => connect(port).map(|_| ()),
        [kind, port, path] if kind == "http" => http(port, path),
        _ => {
            eprintln!("usage: liftkit-init probe tcp PORT | probe http PORT PATH");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("probe: {e}");
            1
        }
    }
}

/// `PORT` (on loopback) or `ADDRESS:PORT`.
fn connect(target: &str) -> Result<TcpStream, String> {
    let addr = match target.parse::<u16>() {
        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
        Err(_) => target
            .parse()
            .map_err(|_| format!("bad port or address {target:?}"))?,
    };
    TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))
}

fn http(port: &str, path: &str) -> Result<(), String> {
    let mut s = connect(port)?;
    let _ = s.set_read_timeout(Some(TIMEOUT));
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: liftkit-probe\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    if status < 400 {
        Ok(())
    } else {
        Err(format!("GET {path}: status {status}"))
    }
}
