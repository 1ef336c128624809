//! Cause 4: interpreted applications. The executable is the interpreter; the application is the
//! code it loads, which no descriptor shows once it is read. One small parser per runtime, the
//! way the python hook works: the script the command line names (relative to the working
//! directory), the static closure of what it loads, the runtime's own search path, and the
//! packages it reaches, whole. Python's hook joins the table as one more row.

mod node;
mod perl;
mod php;
mod python;
mod ruby;
pub(crate) mod shell;

use super::paths::{self, TreeRefused};
use super::{AppFacts, Found};
use crate::analyze::rules::absolutize;
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

/// Source files one runtime's closure reads before it stops: a program, not a file system.
const MAX_FILES: usize = 4_000;
/// Bytes of one source file read.
const MAX_SOURCE: u64 = 2 << 20;

type Closure = fn(&Inputs, &AppFacts, &Process) -> Found;

struct Runtime {
    name: &'static str,
    /// Whether an executable's file name is this runtime's interpreter.
    is: fn(&str) -> bool,
    closure: Closure,
}

const RUNTIMES: &[Runtime] = &[
    Runtime {
        name: "node",
        is: |n| n == "node" || n == "nodejs",
        closure: node::closure,
    },
    Runtime {
        name: "perl",
        is: |n| versioned(n, "perl"),
        closure: perl::closure,
    },
    Runtime {
        name: "ruby",
        is: |n| versioned(n, "ruby"),
        closure: ruby::closure,
    },
    Runtime {
        name: "php",
        is: |n| versioned(n, "php"),
        closure: php::closure,
    },
    Runtime {
        name: "python",
        is: |n| versioned(n, "python"),
        closure: python::closure,
    },
    Runtime {
        name: "sh",
        is: shell::is_shell,
        closure: shell::closure,
    },
];

/// `perl`, `perl5.36.0`, `python3.11`: the name, then only digits and dots.
fn versioned(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn runtime_of(p: &Process) -> Option<&'static Runtime> {
    let name = p.exe.as_deref()?.rsplit('/').next()?;
    RUNTIMES.iter().find(|r| (r.is)(name))
}

/// The runtime a process's executable is the interpreter of (`node`, `perl`, …).
pub fn interpreter_of(p: &Process) -> Option<&'static str> {
    runtime_of(p).map(|r| r.name)
}

pub fn closure(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let mut seen: Vec<&[String]> = Vec::new();
    for p in app.processes {
        if seen.contains(&p.cmdline.as_slice()) {
            continue;
        }
        seen.push(&p.cmdline);
        if let Some(rt) = runtime_of(p) {
            found.extend((rt.closure)(inp, app, p));
        }
    }
    found.extend(shell::wrapper(inp, app));
    found
}

/// The script an interpreter's arguments name: the first word that is no option, once the
/// options that take a value (`-I dir`) have had theirs. `None` when the code is inline (`-e`).
pub fn script_arg<'a>(args: &'a [String], with_value: &[&str], inline: &[&str]) -> Option<&'a str> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return args.get(i + 1).map(String::as_str);
        }
        if inline.contains(&a) {
            return None;
        }
        if !a.starts_with('-') || a == "-" {
            return (a != "-").then_some(a);
        }
        if with_value.contains(&a) {
            i += 1;
        }
        i += 1;
    }
    None
}

/// The values of an option given as `-I dir`, `-Idir` or `--include=dir`.
pub fn option_values(args: &[String], short: &str, long: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == short {
            if let Some(v) = args.get(i + 1) {
                out.push(v.clone());
                i += 1;
            }
        } else if let Some(v) = a
            .strip_prefix(short)
            .filter(|v| !v.is_empty() && !short.starts_with("--"))
        {
            out.push(v.to_string());
        } else if let Some(v) = long.and_then(|l| a.strip_prefix(&format!("{l}="))) {
            out.push(v.to_string());
        }
        i += 1;
    }
    out
}

/// A bounded queue of source files to read, each read once.
pub struct Queue {
    seen: BTreeSet<String>,
    queue: VecDeque<String>,
}

impl Queue {
    pub fn new() -> Self {
        Queue {
            seen: BTreeSet::new(),
            queue: VecDeque::new(),
        }
    }

    pub fn push(&mut self, path: &str) {
        if self.seen.len() < MAX_FILES && self.seen.insert(path.to_string()) {
            self.queue.push_back(path.to_string());
        }
    }

    pub fn pop(&mut self) -> Option<String> {
        self.queue.pop_front()
    }

    pub fn full(&self) -> bool {
        self.seen.len() >= MAX_FILES
    }
}

pub fn read_source(inp: &Inputs, path: &str) -> Option<String> {
    let bytes = inp.host.read_limited(Path::new(path), MAX_SOURCE).ok()?;
    if bytes.iter().take(4096).any(|b| *b == 0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn is_file(inp: &Inputs, path: &str) -> bool {
    inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_file())
}

pub fn is_dir(inp: &Inputs, path: &str) -> bool {
    inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_dir())
}

pub fn dir_of(path: &str) -> String {
    Path::new(path)
        .parent()
        .map_or("/".to_string(), |p| p.to_string_lossy().into_owned())
}

/// The directories of a `PATH`-like variable, absolute ones only.
pub fn search_path(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| d.trim_end_matches('/').to_string())
        .collect()
}

/// Directories compiled into an interpreter or its library whose paths contain `word`
/// (`/usr/share/perl5`, `/usr/lib/ruby/3.1.0`): its default search path, read without running
/// it. Kept in the order the binary lists them.
pub fn compiled_dirs(inp: &Inputs, p: &Process, word: &str) -> Vec<String> {
    let mut objects: Vec<String> = p.exe.iter().cloned().collect();
    objects.extend(
        p.maps
            .iter()
            .filter(|m| {
                m.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(&format!("lib{word}")))
            })
            .cloned(),
    );
    let mut out = Vec::new();
    for obj in objects {
        let Ok(bytes) = inp.host.read_limited(Path::new(&obj), 64 << 20) else {
            continue;
        };
        for s in crate::analyze::vars::printable_runs(&bytes) {
            let s = s.trim_end_matches('/');
            if s.starts_with('/')
                && s.contains(word)
                && !s.contains(|c: char| c.is_whitespace() || c == '%' || c == ':')
                && !out.iter().any(|o: &String| o == s)
                && is_dir(inp, s)
                && !paths::is_system_dir(s)
            {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// The contents of the quoted strings of a line.
pub fn quoted(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(['\'', '"', '`']) {
        let q = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(q) else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// Files and directories an application's own source names in string literals
/// (`readFileSync('./config.json')`, `open(my $fh, '<', 'data/words.txt')`,
/// `path.join(__dirname, 'public')`), taken where they exist relative to `bases`.
/// Where an interpreter's program lives: the working directory, the script the command line
/// names (absolute), its directory (the working directory without a script), and the `-I`
/// directories, made absolute, that come first on the runtime's search path.
pub struct Launch {
    pub cwd: String,
    pub script: Option<String>,
    pub script_dir: String,
    pub includes: Vec<String>,
}

impl Launch {
    pub fn of(args: &[String], p: &Process, with_value: &[&str], inline: &[&str]) -> Self {
        let cwd = p.cwd.clone().unwrap_or_else(|| "/".to_string());
        let includes = option_values(args, "-I", None)
            .iter()
            .map(|d| absolutize(d, &cwd))
            .collect();
        let script = script_arg(args, with_value, inline).map(|s| absolutize(s, &cwd));
        Launch {
            script_dir: script.as_deref().map(dir_of).unwrap_or_else(|| cwd.clone()),
            cwd,
            script,
            includes,
        }
    }

    /// The literal paths in `file`, when it is the application's own code (under the script's
    /// directory or the working directory, never all of `/`), resolved against both.
    pub fn own_literals(
        &self,
        inp: &Inputs,
        app: &AppFacts,
        file: &str,
        text: &str,
        found: &mut Found,
    ) {
        let own = [&self.script_dir, &self.cwd]
            .iter()
            .any(|d| paths::is_within(file, d) && d.as_str() != "/");
        if own {
            let bases = vec![self.script_dir.clone(), self.cwd.clone()];
            literal_files(inp, app, file, text, &bases, found);
        }
    }
}

pub fn literal_files(
    inp: &Inputs,
    app: &AppFacts,
    file: &str,
    text: &str,
    bases: &[String],
    found: &mut Found,
) {
    for (n, line) in text.lines().enumerate() {
        let joins = line.contains("dirname") || line.contains("join(") || line.contains("__DIR__");
        for lit in quoted(line) {
            let pathish = lit.contains('/') || lit.trim_start_matches('.').contains('.');
            if lit.len() < 2 || lit.contains(['$', '%', '{', '*', ' ', '\\']) || lit.contains("://")
            {
                continue;
            }
            if !pathish && !joins {
                continue;
            }
            let rel = lit.trim_start_matches('/');
            let candidates: Vec<String> = if lit.starts_with('/') && !joins {
                paths::absolute(lit, "/").into_iter().collect()
            } else {
                bases
                    .iter()
                    .filter_map(|b| paths::absolute(rel, b))
                    .collect()
            };
            let Some(path) = candidates
                .into_iter()
                .find(|c| inp.host.exists(Path::new(c)))
            else {
                continue;
            };
            if paths::is_virtual(&path) || app.in_volume(&path) || paths::is_system_dir(&path) {
                continue;
            }
            let why = format!("named in {file}:{}", n + 1);
            if is_file(inp, &path) {
                if paths::is_log(&path) || paths::is_pid_or_lock(&path) {
                    continue;
                }
                found.file(path, Role::Config, why, Confidence::Guessed);
            } else if is_dir(inp, &path)
                && app.takes_trees()
                && bases.iter().any(|b| paths::is_within(&path, b))
            {
                take_tree(inp, &path, Role::Code, &why, Confidence::Guessed, found);
            }
        }
    }
}

/// A directory taken whole (a node package, a gem, a served directory), or a finding.
pub fn take_tree(inp: &Inputs, dir: &str, role: Role, why: &str, c: Confidence, found: &mut Found) {
    match paths::tree_all(inp, dir) {
        Ok(files) => {
            for f in files {
                found.file(f, role, why.to_string(), c);
            }
        }
        Err(TreeRefused::System) => {}
        Err(refused) => found
            .findings
            .push(Finding::warning(dir, refused.describe(dir))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scripts_options_and_quotes() {
        assert_eq!(
            script_arg(&s(&["-Ilib", "-w", "app.pl", "x"]), &["-I"], &["-e"]),
            Some("app.pl")
        );
        assert_eq!(
            script_arg(&s(&["-I", "lib", "app.pl"]), &["-I"], &["-e"]),
            Some("app.pl")
        );
        assert_eq!(script_arg(&s(&["-e", "print 1"]), &[], &["-e"]), None);
        assert_eq!(
            option_values(&s(&["-Ilib", "-I", "/x", "a"]), "-I", None),
            ["lib", "/x"]
        );
        assert_eq!(
            quoted(r#"require('./a'); x = "b/c.json""#),
            ["./a", "b/c.json"]
        );
        assert!(versioned("perl5.36.0", "perl") && !versioned("perldoc", "perl"));
    }
}
