//! Shell wrappers: the script a shell runs (`sh start.sh`, `sh -c '…'`, the entrypoint when it
//! is a script, the wrapper that started the app), the commands it runs, found on its `PATH` as
//! it sets it, the files it sources, and the variables it exports: the image keeps those.

use super::{is_file, read_source, script_arg, search_path};
use crate::analyze::rules::absolutize;
use crate::analyze::sources::{AppFacts, Found, Kind};
use crate::analyze::syntax::split_words;
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::collections::BTreeSet;

const SHELLS: &[&str] = &["sh", "dash", "bash", "ash", "ksh", "mksh", "zsh"];
/// Words before a command that run it (`exec nohup env X=1 prog`).
const PREFIXES: &[&str] = &[
    "exec", "nohup", "env", "command", "nice", "ionice", "setsid", "chrt", "taskset", "stdbuf",
    "time", "!", "then", "else", "elif", "do", "if", "while", "until", "{", "(",
];
/// Built-ins and keywords: no file to take.
const BUILTINS: &[&str] = &[
    "fi", "done", "esac", "case", "for", "in", "}", ")", "echo", "printf", "read", "test", "[",
    "[[", "]]", "true", "false", "exit", "return", "shift", "set", "unset", "trap", "wait", "eval",
    "local", "readonly", "umask", "ulimit", "cd", "pwd", "alias", "type", "hash", "getopts",
    "break", "continue", ":", "declare", "typeset", "let", "source", ".", "export", "kill",
    "function",
];
const MAX_DEPTH: usize = 4;

pub fn is_shell(name: &str) -> bool {
    SHELLS.contains(&name)
}

fn is_shell_path(path: &str) -> bool {
    is_shell(path.rsplit('/').next().unwrap_or(path))
}

/// The script a shell process runs, or its `-c` command text.
enum Body {
    Script(String),
    Command(String),
}

fn body_of(p: &Process) -> Option<Body> {
    let args = p.cmdline.get(1..).unwrap_or_default();
    if let Some(i) = args.iter().position(|a| a == "-c") {
        return args.get(i + 1).map(|c| Body::Command(c.clone()));
    }
    let cwd = p.cwd.as_deref().unwrap_or("/");
    script_arg(args, &["-o", "+o"], &[]).map(|s| Body::Script(absolutize(s, cwd)))
}

pub fn closure(inp: &Inputs, _app: &AppFacts, p: &Process) -> Found {
    let mut s = Script::new(inp, p);
    match body_of(p) {
        Some(Body::Script(file)) if is_file(inp, &file) => {
            s.found.script(&file, "a shell", p.pid);
            s.file(&file, 0, true);
        }
        Some(Body::Command(text)) => {
            s.text(&text, &format!("the -c command of pid {}", p.pid), 0, true)
        }
        _ => {}
    }
    s.found
}

/// The shell scripts around the application: the wrapper that started it (its exports are the
/// environment the program was given) and the entrypoint, when it is a script.
pub fn wrapper(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    if let Some(parent) = inp
        .snapshot
        .process(app.root.ppid)
        .filter(|p| p.exe.as_deref().is_some_and(is_shell_path))
    {
        if let Some(Body::Script(file)) = body_of(parent) {
            let mut s = Script::new(inp, parent);
            s.file(&file, 0, false);
            found.extend(s.found);
        }
    }
    if let Some(first) = app.entrypoint.first().filter(|e| e.starts_with('/')) {
        let shebang = crate::analyze::sources::entry::shebang(inp, first);
        if shebang.is_some_and(|(interp, arg)| {
            is_shell_path(&interp) || arg.as_deref().is_some_and(is_shell_path)
        }) {
            let mut s = Script::new(inp, app.root);
            s.file(first, 0, true);
            found.extend(s.found);
        }
    }
    found
}

struct Script<'a> {
    inp: &'a Inputs<'a>,
    path: Vec<String>,
    cwd: String,
    read: BTreeSet<String>,
    found: Found,
}

impl<'a> Script<'a> {
    fn new(inp: &'a Inputs<'a>, p: &Process) -> Self {
        Script {
            inp,
            path: search_path(p.env("PATH").or(Some(
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ))),
            cwd: p.cwd.clone().unwrap_or_else(|| "/".to_string()),
            read: BTreeSet::new(),
            found: Found::default(),
        }
    }

    /// `commands`: take what the script runs (false for a wrapper that is not in the image:
    /// only its exports matter).
    fn file(&mut self, file: &str, depth: usize, commands: bool) {
        if depth > MAX_DEPTH || !self.read.insert(file.to_string()) {
            return;
        }
        if let Some(text) = read_source(self.inp, file) {
            self.text(&text, file, depth, commands);
        }
    }

    fn text(&mut self, text: &str, from: &str, depth: usize, commands: bool) {
        let joined = text.replace("\\\n", " ");
        for (n, line) in joined.lines().enumerate() {
            let at = format!("{from}:{}", n + 1);
            for cmd in segments(line) {
                self.command(&split_words(&cmd), &at, depth, commands);
            }
        }
    }

    fn command(&mut self, words: &[String], at: &str, depth: usize, commands: bool) {
        let mut i = 0;
        while let Some(w) = words.get(i) {
            if let Some((k, v)) = assignment(w) {
                self.assigned(k, v);
            } else if !PREFIXES.contains(&w.as_str()) {
                break;
            }
            i += 1;
        }
        let Some(cmd) = words.get(i) else { return };
        let args = &words[i + 1..];
        match cmd.as_str() {
            "export" => {
                for a in args {
                    let name = match assignment(a) {
                        Some((k, v)) => {
                            self.assigned(k, v);
                            k
                        }
                        None => a.as_str(),
                    };
                    if is_name(name) {
                        self.found.add(
                            name,
                            Kind::Env,
                            Role::Config,
                            format!("exported by {at}"),
                            Confidence::Declared,
                        );
                    }
                }
            }
            "." | "source" => {
                if let Some(f) = args.first().filter(|f| !f.contains('$')) {
                    let f = absolutize(f, &self.cwd);
                    if is_file(self.inp, &f) {
                        self.found.file(
                            &f,
                            Role::Config,
                            format!("sourced by {at}"),
                            Confidence::Declared,
                        );
                        self.file(&f, depth + 1, commands);
                    }
                }
            }
            "cd" => {
                if let Some(d) = args.first().filter(|d| !d.contains('$')) {
                    self.cwd = absolutize(d, &self.cwd);
                }
            }
            _ if !commands
                || cmd.contains(['$', '`', '(', '='])
                || BUILTINS.contains(&cmd.as_str()) => {}
            _ => {
                if let Some(prog) = self.find(cmd) {
                    self.found.file(
                        &prog,
                        Role::Code,
                        format!("run by {at}"),
                        Confidence::Declared,
                    );
                }
                for a in args
                    .iter()
                    .filter(|a| a.starts_with('/') && !a.contains('$'))
                {
                    if is_file(self.inp, a) && !crate::analyze::sources::paths::is_transient(a) {
                        self.found.file(
                            a.clone(),
                            Role::Config,
                            format!("named by {at}"),
                            Confidence::Guessed,
                        );
                    }
                }
            }
        }
    }

    fn assigned(&mut self, key: &str, value: &str) {
        if key == "PATH" {
            let old = self.path.join(":");
            let expanded = value.replace("${PATH}", &old).replace("$PATH", &old);
            self.path = search_path(Some(&expanded));
        }
    }

    /// A command as the shell finds it: a path as written, a bare name on `PATH`.
    fn find(&self, cmd: &str) -> Option<String> {
        if cmd.contains('/') {
            let f = absolutize(cmd, &self.cwd);
            return is_file(self.inp, &f).then_some(f);
        }
        self.path
            .iter()
            .map(|d| format!("{d}/{cmd}"))
            .find(|f| is_file(self.inp, f))
    }
}

/// `A=b` with a valid name.
fn assignment(word: &str) -> Option<(&str, &str)> {
    word.split_once('=').filter(|(k, _)| is_name(k))
}

fn is_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A line cut into simple commands at `;`, `&&`, `||`, `|` and `&` outside quotes; a comment
/// ends it.
fn segments(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => break,
            (None, ';' | '&' | '|') => {
                out.push(String::new());
                prev = c;
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
        prev = c;
    }
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn a_wrapper_script_its_exports_commands_and_sourced_files() {
        let fx = Fixture::new();
        fx.write(
            "/opt/v/bin/start.sh",
            "#!/bin/sh\n# start the daemon\n. /opt/v/etc/env.sh\n\
             export LD_LIBRARY_PATH=/opt/v/lib\nPATH=/opt/v/bin:$PATH\nexport PATH\n\
             VENDOR_MODE=prod; export VENDOR_MODE\n\
             cd /opt/v && exec vendord -c /opt/v/etc/v.conf \"$@\" # comment /opt/no\n",
        )
        .write("/opt/v/etc/env.sh", "export VENDOR_HOME=/opt/v\n")
        .write("/opt/v/bin/vendord", "\x7fELF")
        .write("/opt/v/etc/v.conf", "x\n")
        .write("/usr/bin/logger", "\x7fELF");
        let p = process("/usr/bin/dash", &["/bin/sh", "/opt/v/bin/start.sh"], "/");
        let found = fx.run(super::super::closure, p, &[]);
        assert!(find(&found, "/opt/v/bin/start.sh")
            .why
            .contains("the script a shell runs"));
        assert!(find(&found, "/opt/v/etc/env.sh")
            .why
            .contains("sourced by /opt/v/bin/start.sh:3"));
        let d = find(&found, "/opt/v/bin/vendord");
        assert!(d.why.contains("run by /opt/v/bin/start.sh:8"), "{}", d.why);
        assert!(has(&found, "/opt/v/etc/v.conf"));
        for name in ["LD_LIBRARY_PATH", "PATH", "VENDOR_MODE", "VENDOR_HOME"] {
            assert_eq!(find(&found, name).kind, Kind::Env, "{name}");
        }
        assert!(!has(&found, "/opt/no"));
        assert_eq!(segments("a 'b;c' && d # e; f"), ["a 'b;c' ", " d "]);
    }
}
