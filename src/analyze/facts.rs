//! Live, read-only questions to running applications, asked at collect time (redis `INFO server`
//! names the configuration file its rewritten command line hides).
//!
//! All questions are asked side by side and share one deadline: however many services listen
//! and however slowly they answer, gathering takes at most `BUDGET`. Each read ends as soon as
//! its answer is complete (the value is followed by more of the reply, or the peer closed), not
//! when a timeout passes.

use super::spec::{Analyzer, FactQuery};
use crate::snapshot::{Fact, Snapshot};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The whole gathering's time, for every question together.
pub const BUDGET: Duration = Duration::from_secs(1);
const MAX_ANSWER: usize = 256 << 10;
/// Questions in flight at once: each is a blocking connection waiting on a server, not work for
/// a core, so many wait together (a host with more questions than this is asked in waves, and
/// what is not asked by the deadline is not known).
const IN_FLIGHT: usize = 256;

pub fn gather(snapshot: &Snapshot, analyzers: &[Analyzer]) -> Vec<Fact> {
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
    let deadline = Instant::now() + BUDGET;
    let answers = side_by_side(questions.len(), |i| {
        let (_, _, addr, q) = questions[i];
        ask(addr, q, deadline)
    });
    questions
        .iter()
        .zip(answers)
        .filter_map(|((pid, analyzer, _, q), value)| {
            Some(Fact {
                pid: *pid,
                analyzer: analyzer.id.clone(),
                name: q.name.clone(),
                value: value?,
            })
        })
        .collect()
}

/// `f(0..n)` on up to `IN_FLIGHT` threads, results in order.
fn side_by_side<T: Send>(n: usize, f: impl Fn(usize) -> Option<T> + Sync) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut out);
    std::thread::scope(|s| {
        for _ in 0..n.min(IN_FLIGHT) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = f(i);
                if let Ok(mut results) = results.lock() {
                    results[i] = r;
                }
            });
        }
    });
    out
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

/// The time left before `deadline`; None once it has passed (a zero timeout means "none" to
/// the socket calls).
fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn ask(addr: SocketAddr, q: &FactQuery, deadline: Instant) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, left(deadline)?).ok()?;
    stream.set_write_timeout(left(deadline)).ok()?;
    stream.write_all(&unescape_bytes(&q.send)).ok()?;
    let re = regex::Regex::new(&q.regex).ok()?;
    let refused = q.error.as_deref().and_then(|e| regex::Regex::new(e).ok());
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // Protocols like redis keep the connection open after answering: the read ends when the
    // answer is complete, the peer closes, or the deadline passes.
    loop {
        stream.set_read_timeout(Some(left(deadline)?)).ok()?;
        let closed = match stream.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                false
            }
            Err(_) => return None,
        };
        match judge(&answer, closed, &re, refused.as_ref()) {
            Judged::Value(v) => return Some(v),
            Judged::Refused => return None,
            Judged::More if closed || answer.len() >= MAX_ANSWER => return None,
            Judged::More => {}
        }
    }
}

#[derive(Debug, PartialEq)]
enum Judged {
    Value(String),
    Refused,
    More,
}

/// Whether what has arrived answers the question. A match that reaches the end of what arrived
/// may still grow (`config_file:/etc/re` of a longer line cut by a packet boundary): it counts
/// only when more of the reply follows it, or the peer closed.
fn judge(answer: &[u8], closed: bool, re: &regex::Regex, refused: Option<&regex::Regex>) -> Judged {
    let text = String::from_utf8_lossy(answer);
    if let Some(c) = re.captures(&text) {
        let whole = c.get(0).map_or(0, |m| m.end());
        if whole < text.len() || closed {
            return match c.name("v").or_else(|| c.get(1)) {
                Some(m) => Judged::Value(m.as_str().to_string()),
                None => Judged::Refused,
            };
        }
        return Judged::More;
    }
    if refused.is_some_and(|r| r.is_match(&text)) {
        return Judged::Refused;
    }
    Judged::More
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
    use std::net::TcpListener;

    #[test]
    fn an_answer_cut_at_a_packet_boundary_waits_for_the_rest() {
        let re = regex::Regex::new(r"config_file:(?P<v>[^\r\n]*)").unwrap();
        let err = regex::Regex::new("^-").unwrap();
        let judged = |a: &[u8], closed| judge(a, closed, &re, Some(&err));
        assert_eq!(judged(b"$90\r\nconfig_file:/etc/re", false), Judged::More);
        assert_eq!(
            judged(b"$90\r\nconfig_file:/etc/redis.conf\r\n", false),
            Judged::Value("/etc/redis.conf".into())
        );
        assert_eq!(
            judged(b"config_file:/etc/redis.conf", true),
            Judged::Value("/etc/redis.conf".into())
        );
        assert_eq!(
            judged(b"-NOAUTH Authentication required.\r\n", false),
            Judged::Refused
        );
        assert_eq!(judged(b"$12\r\n# Ser", false), Judged::More);
    }

    /// Servers that accept and never answer: every question is given up at the one shared
    /// deadline (the test ends), and a server asked after them that answers at once, keeping
    /// its connection open as redis does, is still read.
    #[test]
    fn silent_servers_end_at_the_deadline_and_do_not_hold_up_an_answer() {
        let silent: Vec<TcpListener> = (0..40)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let talker = TcpListener::bind("127.0.0.1:0").unwrap();
        let talker_addr = talker.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = talker.accept().unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            s.write_all(b"config_file:/x\r\n").unwrap();
            std::thread::sleep(Duration::from_secs(3));
        });
        let q = FactQuery {
            name: "config_file".into(),
            send: "INFO server\r\n".into(),
            regex: r"config_file:(?P<v>[^\r\n]*)".into(),
            error: None,
            split: false,
        };
        let addrs: Vec<SocketAddr> = silent
            .iter()
            .map(|l| l.local_addr().unwrap())
            .chain([talker_addr])
            .collect();
        let deadline = Instant::now() + BUDGET;
        let answers = side_by_side(addrs.len(), |i| ask(addrs[i], &q, deadline));
        assert_eq!(answers.last().unwrap().as_deref(), Some("/x"));
        assert!(answers[..addrs.len() - 1].iter().all(Option::is_none));
        // Past the deadline nothing is asked at all.
        assert_eq!(ask(talker_addr, &q, Instant::now()), None);
    }

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
