//! A bounded load loop over loopback: `connections` clients, each on one kept-alive connection,
//! sending the protocol's smallest real request until `requests` have been answered in all,
//! each answer timed. The same loop drives the original and the lifted app (the latter from
//! inside its network namespace), so the two figures differ only by what runs the app.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `GET /` on HTTP/1.1 keep-alive; the body read by its Content-Length.
    Http,
    /// `PING` → `+PONG`.
    Redis,
    /// Startup as `postgres` (trust), then `SELECT 1` by the simple query protocol.
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Load {
    pub requests: u64,
    pub seconds: f64,
    /// Every answer's latency in microseconds, sorted.
    pub latencies_us: Vec<u64>,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    /// The latency below which `q` (0..1) of the answers came, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 * q).ceil() as usize)
            .clamp(1, self.latencies_us.len())
            - 1;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Runs the load against `addr`; with `netns` (a pid), from inside that process's network
/// namespace; with `cpus`, each client thread pinned to those CPUs.
pub fn run(
    proto: Protocol,
    addr: SocketAddr,
    requests: u64,
    connections: usize,
    netns: Option<i32>,
    cpus: Option<&[usize]>,
) -> Result<Load, String> {
    let left = AtomicU64::new(requests);
    let started = Instant::now();
    let results: Vec<Result<Vec<u64>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections.max(1))
            .map(|_| {
                let left = &left;
                scope.spawn(move || {
                    if let Some(cpus) = cpus {
                        super::affinity::pin(0, cpus)?;
                    }
                    let client = move || client(proto, addr, left);
                    match netns {
                        Some(pid) => crate::os::netns::run_in(pid, client)
                            .map_err(|e| format!("cannot enter the container's network: {e}"))?,
                        None => client(),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into())))
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies_us = Vec::with_capacity(requests as usize);
    for r in results {
        latencies_us.extend(r?);
    }
    latencies_us.sort_unstable();
    Ok(Load {
        requests: latencies_us.len() as u64,
        seconds,
        latencies_us,
    })
}

/// One client: takes requests from the shared budget until it is spent.
fn client(proto: Protocol, addr: SocketAddr, left: &AtomicU64) -> Result<Vec<u64>, String> {
    let mut conn = Conn::open(proto, addr)?;
    let mut out = Vec::new();
    while left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        // A server ends a kept-alive connection after so many requests (nginx: 1,000, with
        // `Connection: close`): a client opens the next one, as browsers and proxies do.
        if conn.closing {
            conn = Conn::open(proto, addr)?;
        }
        let t = Instant::now();
        match proto {
            Protocol::Http => conn.http_get()?,
            Protocol::Redis => conn.redis_ping()?,
            Protocol::Postgres => conn.pg_select_1()?,
        }
        out.push(t.elapsed().as_micros() as u64);
    }
    Ok(out)
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
    /// The server said it closes the connection after this answer.
    closing: bool,
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

impl Conn {
    fn open(proto: Protocol, addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn = Conn {
            w: stream.try_clone().map_err(|e| e.to_string())?,
            r: BufReader::new(stream),
            closing: false,
        };
        if proto == Protocol::Postgres {
            conn.pg_startup()?;
        }
        Ok(conn)
    }

    fn http_get(&mut self) -> Result<(), String> {
        self.w
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .map_err(io)?;
        let mut length = None;
        let mut status = String::new();
        self.r.read_line(&mut status).map_err(io)?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("HTTP answer {:?}", status.trim()));
        }
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).map_err(io)? == 0 {
                return Err("connection closed in the headers".into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
                if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                    self.closing = true;
                }
            }
        }
        let mut body = vec![0u8; length.ok_or("no Content-Length")?];
        self.r.read_exact(&mut body).map_err(io)
    }

    fn redis_ping(&mut self) -> Result<(), String> {
        self.w.write_all(b"*1\r\n$4\r\nPING\r\n").map_err(io)?;
        let mut line = String::new();
        self.r.read_line(&mut line).map_err(io)?;
        if line == "+PONG\r\n" {
            Ok(())
        } else {
            Err(format!("redis answered {line:?}"))
        }
    }

    /// One backend message: its type and body.
    fn pg_message(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut head = [0u8; 5];
        self.r.read_exact(&mut head).map_err(io)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        self.r.read_exact(&mut body).map_err(io)?;
        if head[0] == b'E' {
            return Err(format!(
                "postgres error: {}",
                String::from_utf8_lossy(&body).replace('\0', " ")
            ));
        }
        Ok((head[0], body))
    }

    fn pg_until_ready(&mut self) -> Result<(), String> {
        loop {
            let (kind, body) = self.pg_message()?;
            match kind {
                b'Z' => return Ok(()),
                b'R' if body.get(..4) != Some(&[0, 0, 0, 0]) => {
                    return Err("postgres asks for a password (the load needs trust)".into())
                }
                _ => {}
            }
        }
    }

    fn pg_startup(&mut self) -> Result<(), String> {
        let params = b"user\0postgres\0database\0postgres\0\0";
        let mut msg = Vec::new();
        msg.extend_from_slice(&((8 + params.len()) as u32).to_be_bytes());
        msg.extend_from_slice(&196608u32.to_be_bytes()); // protocol 3.0
        msg.extend_from_slice(params);
        self.w.write_all(&msg).map_err(io)?;
        self.pg_until_ready()
    }

    fn pg_select_1(&mut self) -> Result<(), String> {
        let sql = b"SELECT 1\0";
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((4 + sql.len()) as u32).to_be_bytes());
        msg.extend_from_slice(sql);
        self.w.write_all(&msg).map_err(io)?;
        self.pg_until_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_sorted_latencies() {
        let l = Load {
            requests: 100,
            seconds: 2.0,
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
        };
        assert_eq!(l.per_second(), 50.0);
        assert_eq!(l.quantile_ms(0.99), 99.0);
        assert_eq!(l.quantile_ms(0.5), 50.0);
        assert_eq!(l.quantile_ms(1.0), 100.0);
    }

    #[test]
    fn the_loop_speaks_redis_to_a_server_on_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for s in listener.incoming().take(2) {
                let mut s = s.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 14];
                    while s.read_exact(&mut buf).is_ok() {
                        s.write_all(b"+PONG\r\n").unwrap();
                    }
                });
            }
        });
        // The client threads pinned as a parity run pins them, where there are CPUs to split.
        let load_cpus = super::super::affinity::split().map(|(_, l)| l);
        let l = run(Protocol::Redis, addr, 50, 2, None, load_cpus.as_deref()).unwrap();
        assert_eq!(l.requests, 50);
        assert_eq!(l.latencies_us.len(), 50);
        server.join().unwrap();
    }
}
