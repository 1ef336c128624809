//! The supervisor's trace (init/src/app_pid1/trace.rs writes it): what the lifted app opened,
//! missed, wrote and was refused, and the system calls it made.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Trace {
    /// The architecture the numbers are of (AUDIT_ARCH).
    pub arch: u32,
    /// Paths opened, with the union of their open flags (hex in the file).
    pub opened: BTreeMap<String, u64>,
    pub executed: BTreeSet<String>,
    /// Looked up and not found: path → the call that looked.
    pub missing: BTreeMap<String, String>,
    /// To be created, but the directory was missing: path → the call.
    pub missing_parent: BTreeMap<String, String>,
    /// Created, removed, renamed or changed: path → the call.
    pub written: BTreeMap<String, String>,
    /// Refused on a path: path → "call errno".
    pub denied: BTreeMap<String, String>,
    /// Refused without a path: "nr errno" (numbers of `arch`).
    pub refused: BTreeSet<(i64, String)>,
    pub syscalls: BTreeSet<i64>,
    /// Lines that could not be read (the last one cut when the container was killed).
    pub unreadable: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct TraceError {
    pub line: usize,
    pub what: String,
}

const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;

impl Trace {
    /// Whether `flags` open for writing (write access, create, truncate, append).
    pub fn writes(flags: u64) -> bool {
        flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC | O_APPEND) != 0
    }

    /// Paths opened for reading only, or executed: what the app needs the image to hold.
    pub fn read_set(&self) -> BTreeSet<&str> {
        self.opened
            .iter()
            .filter(|(_, f)| !Trace::writes(**f))
            .map(|(p, _)| p.as_str())
            .chain(self.executed.iter().map(String::as_str))
            .collect()
    }

    /// Paths the app wrote: opened for writing, or changed by a call.
    pub fn write_set(&self) -> BTreeSet<&str> {
        self.opened
            .iter()
            .filter(|(_, f)| Trace::writes(**f))
            .map(|(p, _)| p.as_str())
            .chain(self.written.keys().map(String::as_str))
            .collect()
    }

    pub fn syscall_names(&self) -> Vec<String> {
        self.syscalls
            .iter()
            .map(|nr| {
                super::syscalls::name(self.arch, *nr).map_or_else(|| format!("#{nr}"), String::from)
            })
            .collect()
    }
}

pub fn parse(text: &str) -> Result<Trace, TraceError> {
    let mut t = Trace::default();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, head)) if head.starts_with("liftkit-trace 1 ") => {
            t.arch = head["liftkit-trace 1 ".len()..]
                .trim()
                .parse()
                .map_err(|_| TraceError {
                    line: 1,
                    what: "no architecture in the header".into(),
                })?;
        }
        _ => {
            return Err(TraceError {
                line: 1,
                what: "not a liftkit trace (no `liftkit-trace 1` header)".into(),
            })
        }
    }
    for (i, line) in lines {
        if line_into(&mut t, i, line).is_err() {
            t.unreadable += 1;
        }
    }
    Ok(t)
}

fn line_into(t: &mut Trace, i: usize, line: &str) -> Result<(), TraceError> {
    {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = |what: &str| TraceError {
            line: i + 1,
            what: format!("{what}: {line:?}"),
        };
        let path = |k: usize| f.get(k).map(|p| unescape(p)).ok_or_else(|| bad("no path"));
        match f[0] {
            "open" => {
                let flags = u64::from_str_radix(f.get(1).ok_or_else(|| bad("no flags"))?, 16)
                    .map_err(|_| bad("flags are not hex"))?;
                *t.opened.entry(path(2)?).or_default() |= flags;
            }
            "exec" => {
                t.executed.insert(path(1)?);
            }
            "missing" => {
                t.missing.insert(path(2)?, f[1].to_string());
            }
            "noparent" => {
                t.missing_parent.insert(path(2)?, f[1].to_string());
            }
            "write" => {
                t.written.insert(path(2)?, f[1].to_string());
            }
            "denied" => {
                let why = format!("{} {}", f[1], f.get(2).copied().unwrap_or_default());
                t.denied.insert(path(3)?, why);
            }
            "refused" => {
                let nr = f
                    .get(2)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad("no number"))?;
                t.refused
                    .insert((nr, f.get(3).copied().unwrap_or_default().to_string()));
            }
            "syscall" => {
                let nr = f
                    .get(2)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad("no number"))?;
                t.syscalls.insert(nr);
            }
            // A kind of a newer supervisor.
            _ => {}
        }
    }
    Ok(())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "liftkit-trace 1 3221225534\n\
        syscall\t3221225534\t257\n\
        open\t0\t/etc/app.conf\n\
        open\t41\t/var/lib/app/state\n\
        open\t0\t/var/lib/app/state\n\
        exec\t/usr/bin/app\n\
        missing\topenat\t/opt/app/plugins/a\\tb.so\n\
        noparent\tmkdir\t/run/app/sock\n\
        write\tunlink\t/run/app.pid\n\
        denied\topenat\tEACCES\t/var/log/app.log\n\
        refused\t3221225534\t105\tEPERM\n\
        syscall\t3221225534\t0\n\
        open\t4";

    #[test]
    fn every_kind_of_line_is_read() {
        let t = parse(SAMPLE).unwrap();
        assert_eq!(t.arch, 0xc000_003e);
        assert_eq!(t.opened["/var/lib/app/state"], 0x41);
        assert!(t.read_set().contains("/etc/app.conf"));
        assert!(t.read_set().contains("/usr/bin/app"));
        assert!(!t.read_set().contains("/var/lib/app/state"));
        assert!(t.write_set().contains("/var/lib/app/state"));
        assert!(t.write_set().contains("/run/app.pid"));
        assert_eq!(t.missing["/opt/app/plugins/a\tb.so"], "openat");
        assert!(t.missing_parent.contains_key("/run/app/sock"));
        assert_eq!(t.denied["/var/log/app.log"], "openat EACCES");
        assert!(t.refused.contains(&(105, "EPERM".to_string())));
        assert_eq!(t.syscall_names(), ["read", "openat"]);
    }

    #[test]
    fn a_cut_last_line_is_counted_not_fatal() {
        assert_eq!(parse(SAMPLE).unwrap().unreadable, 1);
        let whole = SAMPLE.trim_end_matches("\nopen\t4");
        assert_eq!(parse(whole).unwrap().unreadable, 0);
    }

    #[test]
    fn a_file_that_is_no_trace_is_refused() {
        assert!(parse("hello\n").is_err());
    }
}
