//! Cause 7: the entrypoint must name a path the image holds. The command names a program by
//! the path it was started as (`/usr/bin/java` → `/etc/alternatives/java` → the JVM, a version
//! manager's `…/shims/…` or `…/current/bin/node`): that path is taken, so the image holds the
//! whole chain of links the host has. A script it starts needs the interpreter its `#!` line
//! names (and, for `#!/usr/bin/env prog`, `env` and `prog` on the `PATH`).

use super::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use std::path::Path;

/// Interpreters behind interpreters (`#!` naming a script) followed this far.
const MAX_CHAIN: usize = 4;

pub fn chain(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let Some(first) = app.entrypoint.first() else {
        return found;
    };
    let path = app
        .root
        .env("PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let Some(program) = locate(inp, first, path) else {
        return found;
    };
    found.file(
        &program,
        Role::Code,
        "the entrypoint runs it",
        Confidence::Declared,
    );
    let mut current = program;
    for _ in 0..MAX_CHAIN {
        let Some((interp, arg)) = shebang(inp, &current) else {
            break;
        };
        let why = format!("interpreter of {current} (its #! line)");
        if !inp.host.exists(Path::new(&interp)) {
            found.findings.push(crate::findings::Finding::error(
                &current,
                format!("its #! line names {interp}, which the source host does not have"),
            ));
            break;
        }
        found.file(&interp, Role::Code, why.clone(), Confidence::Declared);
        let next = match (interp.rsplit('/').next(), arg) {
            // `#!/usr/bin/env python3`: the program is looked up on PATH when it runs.
            (Some("env"), Some(prog)) => match locate(inp, &prog, path) {
                Some(p) => {
                    found.file(
                        &p,
                        Role::Code,
                        format!("{why}, found on PATH"),
                        Confidence::Declared,
                    );
                    p
                }
                None => {
                    found.findings.push(crate::findings::Finding::error(
                        &current,
                        format!("its #! line runs {prog} from PATH, which the source host does not have"),
                    ));
                    break;
                }
            },
            _ => interp,
        };
        current = next;
    }
    found
}

/// A program as `execvp` finds it: a path as written (relative to nothing: the entrypoint has
/// no cwd yet), a bare name on `PATH`.
pub fn locate(inp: &Inputs, program: &str, path: &str) -> Option<String> {
    if program.contains('/') {
        return program
            .starts_with('/')
            .then(|| program.to_string())
            .filter(|p| inp.host.stat(Path::new(p)).is_ok_and(|m| m.is_file()));
    }
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .find(|p| inp.host.stat(Path::new(p)).is_ok_and(|m| m.is_file()))
}

/// The interpreter a script's `#!` line names, and its one optional argument.
pub fn shebang(inp: &Inputs, file: &str) -> Option<(String, Option<String>)> {
    let head = inp.host.read_limited(Path::new(file), 256).ok()?;
    parse_shebang(&head)
}

pub fn parse_shebang(head: &[u8]) -> Option<(String, Option<String>)> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim();
    let mut parts = line.splitn(2, char::is_whitespace);
    let interp = parts.next().filter(|i| i.starts_with('/'))?.to_string();
    let arg = parts
        .next()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.split_whitespace().next().unwrap_or(a).to_string());
    Some((interp, arg))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some(("/bin/sh".into(), None))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u\n"),
            Some(("/usr/bin/env".into(), Some("python3".into())))
        );
        assert_eq!(parse_shebang(b"\x7fELF"), None);
        assert_eq!(parse_shebang(b"#!relative\n"), None);
    }

    #[test]
    fn the_link_chain_and_interpreters_of_the_entrypoint() {
        let fx = Fixture::new();
        fx.write("/usr/lib/jvm/java-17/bin/java", "\x7fELF")
            .symlink("/usr/lib/jvm/java-17/bin/java", "/etc/alternatives/java")
            .symlink("/etc/alternatives/java", "/usr/bin/java")
            .write("/opt/app/run", "#!/usr/bin/env python3\nprint(1)\n")
            .write("/usr/bin/env", "\x7fELF")
            .write("/usr/bin/python3.11", "\x7fELF")
            .symlink("python3.11", "/usr/bin/python3");
        let p = process(
            "/usr/lib/jvm/java-17/bin/java",
            &["/usr/bin/java", "-jar", "x.jar"],
            "/",
        );
        let ep: Vec<String> = vec!["/usr/bin/java".into(), "-jar".into()];
        let found = fx.run_with(chain, p.clone(), &[], &[], &ep);
        assert!(
            find(&found, "/usr/bin/java").why.contains("entrypoint"),
            "a link kept as named"
        );
        let ep: Vec<String> = vec!["/opt/app/run".into()];
        let found = fx.run_with(chain, p, &[], &[], &ep);
        assert!(has(&found, "/opt/app/run"));
        assert!(find(&found, "/usr/bin/env").why.contains("#! line"));
        assert!(find(&found, "/usr/bin/python3")
            .why
            .contains("found on PATH"));
    }
}
