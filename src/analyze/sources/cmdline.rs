//! Cause 1: what the command line names. A program reads the configuration `-f` names at start-up
//! and closes it, so no descriptor shows it; the command line still does. Every argument that
//! names an existing file or directory is taken: absolute, relative to the process's working
//! directory, `--opt=value`, `-o value`, `-o/value` and positional.

use super::paths::{self, TreeRefused};
use super::{AppFacts, Found, Kind};
use crate::analyze::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::path::Path;

/// Long options whose value is where the program keeps its data.
const DATA_OPTIONS: &[&str] = &[
    "datadir",
    "data-dir",
    "data_dir",
    "data-directory",
    "data-path",
    "datapath",
    "dbpath",
    "db-path",
    "dbdir",
    "db-dir",
    "statedir",
    "state-dir",
    "state-directory",
    "storage-dir",
    "localstatedir",
    "spool-dir",
    "spooldir",
    "var-dir",
    "vardir",
    "workdir",
    "work-dir",
];

/// Places whose directories hold state by convention.
const STATE_PLACES: &[&str] = &["/var/lib", "/var/spool", "/var/cache", "/var/db"];

/// One argument that may name a path: the option it belongs to (`--datadir`, `-f`), if any.
#[derive(Debug, PartialEq, Eq)]
struct Named<'a> {
    option: Option<&'a str>,
    value: &'a str,
}

pub fn paths(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let mut seen: Vec<Vec<String>> = Vec::new();
    for p in app.processes {
        let args = words(&p.cmdline);
        if args.len() < 2 || seen.contains(&args) {
            continue;
        }
        for named in named_paths(&args[1..]) {
            take(inp, app, p, &named, &mut found);
        }
        seen.push(args);
    }
    found
}

/// The arguments without the padding a rewritten title leaves; a title rewritten into one
/// string (`nginx: master process /usr/sbin/nginx -c /etc/x.conf`) split back into words.
fn words(cmdline: &[String]) -> Vec<String> {
    let end = cmdline
        .iter()
        .rposition(|a| !a.is_empty())
        .map_or(0, |i| i + 1);
    match &cmdline[..end] {
        [one] if one.contains(' ') => one.split_whitespace().map(str::to_string).collect(),
        args => args.to_vec(),
    }
}

/// Every argument (after the program) with the option it is the value of.
fn named_paths(args: &[String]) -> Vec<Named<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            out.extend(args[i + 1..].iter().map(|v| Named {
                option: None,
                value: v,
            }));
            break;
        }
        if let Some((opt, value)) = a.strip_prefix("--").and_then(|o| o.split_once('=')) {
            out.push(Named {
                option: Some(opt),
                value,
            });
        } else if a.starts_with('-') && a.len() > 1 {
            let opt = a.trim_start_matches('-');
            match args.get(i + 1) {
                // `-c file`, `--config file`: the next word is this option's value, or a
                // positional argument after a flag; either way it is looked at once, here.
                Some(next) if !next.starts_with('-') => {
                    out.push(Named {
                        option: Some(opt),
                        value: next,
                    });
                    i += 1;
                }
                _ => {}
            }
            // `-c/etc/x.conf`: a one-letter option glued to an absolute or explicit path.
            if !a.starts_with("--") && a.len() > 2 {
                let glued = &a[2..];
                if glued.starts_with('/') || glued.starts_with("./") || glued.starts_with("../") {
                    out.push(Named {
                        option: Some(&a[1..2]),
                        value: glued,
                    });
                }
            }
        } else {
            out.push(Named {
                option: None,
                value: a,
            });
        }
        i += 1;
    }
    out
}

fn why(p: &Process, named: &Named) -> String {
    match named.option {
        Some(o) if o.len() == 1 => format!("named on the command line of pid {} (-{o})", p.pid),
        Some(o) => format!("named on the command line of pid {} (--{o})", p.pid),
        None => format!("named on the command line of pid {}", p.pid),
    }
}

fn take(inp: &Inputs, app: &AppFacts, p: &Process, named: &Named, found: &mut Found) {
    let base = p
        .cwd
        .as_deref()
        .filter(|c| c.starts_with('/'))
        .unwrap_or("/");
    // A value like `a.conf,b.conf` or `/a:/b` names several paths when it names none whole.
    let whole = paths::absolute(named.value, base);
    let values: Vec<String> = match &whole {
        Some(w) if inp.host.exists(Path::new(w)) => vec![w.clone()],
        _ => named
            .value
            .split([',', ':'])
            .filter(|v| *v != named.value)
            .filter_map(|v| paths::absolute(v, base))
            .collect(),
    };
    let values = if values.is_empty() {
        whole.into_iter().collect()
    } else {
        values
    };
    for path in values {
        if paths::is_virtual(&path) || path == "/" {
            continue;
        }
        take_path(inp, app, p, named, &path, found);
    }
}

fn take_path(
    inp: &Inputs,
    app: &AppFacts,
    p: &Process,
    named: &Named,
    path: &str,
    found: &mut Found,
) {
    let why = why(p, named);
    let meta = inp.host.stat(Path::new(path));
    let runtime = paths::is_pid_or_lock(path)
        || paths::is_log(path)
        || named.option.is_some_and(|o| {
            let o = o.to_ascii_lowercase();
            o.contains("pid") || o.contains("sock") || o.contains("lock") || o.contains("log")
        });
    if runtime && !meta.as_ref().is_ok_and(|m| m.is_dir()) {
        // Written by the program at run time: its directory must be there, the file must not
        // (a stale pid file stops some daemons from starting).
        paths::runtime_parent(inp, path, &why, Confidence::Declared, found);
        return;
    }
    let Ok(meta) = meta else { return };
    if meta.is_dir() {
        take_dir(inp, app, named, path, &why, found);
    } else if meta.is_file() && !paths::is_transient(path) {
        let role = if super::is_elf(inp, path) || is_script_of(app, p, path) {
            Role::Code
        } else {
            Role::Config
        };
        found.file(path, role, why, Confidence::Declared);
    }
}

/// The first positional argument of an interpreter is its program.
fn is_script_of(app: &AppFacts, p: &Process, path: &str) -> bool {
    super::runtimes::interpreter_of(p).is_some()
        && app.files.role(path).is_none_or(|r| r == Role::Code)
}

fn take_dir(inp: &Inputs, app: &AppFacts, named: &Named, path: &str, why: &str, found: &mut Found) {
    let data_option = named.option.is_some_and(|o| {
        let o = o.to_ascii_lowercase();
        DATA_OPTIONS.contains(&o.as_str())
    });
    let state_place = STATE_PLACES
        .iter()
        .any(|s| paths::is_within(path, s) && path != *s);
    let written = app.processes.iter().any(|p| {
        p.fds
            .iter()
            .any(|f| f.writes() && paths::is_within(&f.target, path) && !paths::is_log(&f.target))
    });
    if data_option || state_place || written {
        if paths::is_system_dir(path) {
            return;
        }
        let what = if data_option {
            "data directory"
        } else if written {
            "written by the application"
        } else {
            "state"
        };
        found.add(
            path,
            Kind::Volume,
            Role::State,
            format!("{why}: {what}, copied from the host"),
            Confidence::Declared,
        );
        return;
    }
    if app.in_volume(path) || !app.takes_trees() {
        return;
    }
    match paths::tree(inp, path, app.package.as_deref()) {
        Ok(files) => {
            for f in files {
                // A server root holds its configuration: the scanner reads what looks like it.
                let role = if path.starts_with("/etc/") || paths::looks_like_config(&f) {
                    Role::Config
                } else {
                    Role::Code
                };
                found.file(
                    f,
                    role,
                    format!("{why}: under {path}"),
                    Confidence::Declared,
                );
            }
        }
        Err(TreeRefused::System) => {}
        Err(refused) => found
            .findings
            .push(Finding::warning(path, refused.describe(path))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;
    use crate::snapshot::OpenFile;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_values_and_positionals() {
        let a = args(&[
            "-f",
            "/srv/a.conf",
            "--datadir=/srv/db",
            "-c/etc/x",
            "-D",
            "app.conf",
        ]);
        let n = named_paths(&a);
        assert_eq!(
            n[0],
            Named {
                option: Some("f"),
                value: "/srv/a.conf"
            }
        );
        assert_eq!(
            n[1],
            Named {
                option: Some("datadir"),
                value: "/srv/db"
            }
        );
        assert_eq!(
            n[2],
            Named {
                option: Some("c"),
                value: "/etc/x"
            }
        );
        assert_eq!(
            n[3],
            Named {
                option: Some("D"),
                value: "app.conf"
            }
        );
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn configs_docroots_data_and_pid_files_named_on_the_command_line() {
        let fx = Fixture::new();
        fx.write("/srv/site/server.conf", "x = 1\n")
            .write("/srv/site/conf/extra.conf", "y\n")
            .write("/srv/site/htdocs/index.html", "hi\n")
            .write("/srv/db/ibdata1", "data")
            .write("/run/app/app.pid", "123\n")
            .write("/usr/sbin/appd", "\x7fELF");
        let p = process(
            "/usr/sbin/appd",
            &[
                "/usr/sbin/appd",
                "-f",
                "server.conf",
                "--include=conf/extra.conf",
                "--docroot",
                "/srv/site/htdocs",
                "--datadir=/srv/db",
                "--pid-file=/run/app/app.pid",
                "-d",
                "--missing=/nowhere/x.conf",
            ],
            "/srv/site",
        );
        let found = fx.run(paths, p, &[]);
        let conf = find(&found, "/srv/site/server.conf");
        assert_eq!((conf.kind, conf.role), (Kind::File, Role::Config));
        assert!(conf.why.contains("(-f)"), "{}", conf.why);
        assert!(
            has(&found, "/srv/site/conf/extra.conf"),
            "relative to the cwd"
        );
        let page = find(&found, "/srv/site/htdocs/index.html");
        assert!(page.why.contains("under /srv/site/htdocs"), "{}", page.why);
        let db = find(&found, "/srv/db");
        assert_eq!((db.kind, db.role), (Kind::Volume, Role::State));
        assert!(
            !has(&found, "/srv/db/ibdata1"),
            "data is the volume's, not the image's"
        );
        assert!(
            !has(&found, "/run/app/app.pid"),
            "a stale pid file is never baked"
        );
        assert_eq!(find(&found, "/run/app").kind, Kind::Scratch);
        assert!(!has(&found, "/nowhere/x.conf"));

        // Recognized by an analyzer, a named directory is its call: files and state only.
        let mut known = crate::analyze::Analyzer::generic();
        known.id = "appd".into();
        let p = process(
            "/usr/sbin/appd",
            &[
                "/usr/sbin/appd",
                "-f",
                "server.conf",
                "--docroot",
                "/srv/site/htdocs",
                "--datadir=/srv/db",
            ],
            "/srv/site",
        );
        let files = crate::analyze::fileset::FileSet::default();
        let found = fx.run_as(&known, paths, p, &files, &[], &[]);
        assert!(has(&found, "/srv/site/server.conf") && has(&found, "/srv/db"));
        assert!(
            !has(&found, "/srv/site/htdocs/index.html"),
            "{:#?}",
            found.evidence
        );
    }

    #[test]
    fn a_directory_the_program_writes_is_state_and_system_dirs_are_never_taken() {
        let fx = Fixture::new();
        fx.write("/opt/app/work/queue.db", "q")
            .write("/usr/bin/app", "#!/bin/sh\n");
        let mut p = process(
            "/usr/bin/app",
            &["/usr/bin/app", "/opt/app/work", "/usr", "/"],
            "/",
        );
        p.fds = vec![OpenFile {
            fd: 4,
            target: "/opt/app/work/queue.db".into(),
            flags: Some(0o100002),
        }];
        let found = fx.run(paths, p, &[]);
        assert_eq!(find(&found, "/opt/app/work").kind, Kind::Volume);
        assert!(!found.evidence.iter().any(|e| e.path.starts_with("/usr")));
    }
}
