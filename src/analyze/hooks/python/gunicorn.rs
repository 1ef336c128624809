//! gunicorn's command line: the application it serves (`module:app`), the directory it imports
//! it from (`--chdir`, else the cwd), its config file, and the same command in the foreground
//! with logs on the engine's streams.

use super::Invocation;
use crate::findings::Finding;
use crate::host::Host;
use std::path::Path;

/// Options that take no value (everything else that starts with `-` does, unless `--opt=value`).
const FLAGS: &[&str] = &[
    "-D",
    "--daemon",
    "-R",
    "--enable-stdio-inheritance",
    "--reload",
    "--preload",
    "--spew",
    "--check-config",
    "--print-config",
    "--capture-output",
    "--no-sendfile",
    "--reuse-port",
    "--initgroups",
    "--strip-header-spaces",
    "--do-handshake-on-connect",
    "--suppress-ragged-eofs",
    "--proxy-protocol",
    "-v",
    "--version",
    "-h",
    "--help",
];

#[derive(Debug, Clone)]
pub struct Gunicorn {
    /// Where gunicorn imports the app from: it chdirs there and puts it first on sys.path.
    pub app_dir: String,
    /// `app` of `app:application`.
    pub app_module: Option<String>,
    /// A Python config file (`-c gunicorn.conf.py`).
    pub config: Option<String>,
    /// `-k`: `sync`, `gthread`, … or a dotted class path.
    worker_class: Option<String>,
    daemon: bool,
    pidfile: bool,
    /// Directories gunicorn writes in the image: `--worker-tmp-dir` (the workers' heartbeat
    /// files), those of `unix:` sockets it binds, and of a pid file its config file names (the
    /// command line's `--pid` is dropped). Absolute paths.
    pub writes: Vec<(String, &'static str)>,
}

pub fn read(host: &dyn Host, inv: &Invocation, cwd: &str) -> Option<Gunicorn> {
    let is_gunicorn = inv
        .script
        .as_deref()
        .is_some_and(|s| s.rsplit('/').next() == Some("gunicorn"))
        || inv.module.as_deref() == Some("gunicorn");
    if !is_gunicorn {
        return None;
    }
    let mut g = Gunicorn {
        app_dir: cwd.to_string(),
        app_module: None,
        config: None,
        worker_class: None,
        daemon: false,
        pidfile: false,
        writes: Vec::new(),
    };
    let mut positional = Vec::new();
    let mut i = 0;
    let args = &inv.args;
    while i < args.len() {
        let a = args[i].as_str();
        let (opt, inline) = match a.split_once('=') {
            Some((o, v)) if a.starts_with("--") => (o, Some(v.to_string())),
            _ => (a, None),
        };
        if !opt.starts_with('-') || opt == "-" {
            positional.push(a.to_string());
            i += 1;
            continue;
        }
        if FLAGS.contains(&opt) {
            g.daemon |= opt == "-D" || opt == "--daemon";
            i += 1;
            continue;
        }
        let value = inline.or_else(|| args.get(i + 1).cloned());
        i += if a.contains('=') { 1 } else { 2 };
        match (opt, value) {
            ("--chdir", Some(v)) => g.app_dir = crate::analyze::rules::absolutize(&v, cwd),
            ("-c" | "--config", Some(v)) => g.config = Some(v),
            ("-p" | "--pid", Some(_)) => g.pidfile = true,
            ("-k" | "--worker-class", Some(v)) => g.worker_class = Some(v),
            ("--worker-tmp-dir", Some(v)) => g.writes.push((v, "gunicorn --worker-tmp-dir")),
            ("-b" | "--bind", Some(v)) => {
                if let Some(dir) = socket_dir(&v) {
                    g.writes
                        .push((dir, "holds gunicorn's unix socket (--bind)"));
                }
            }
            _ => {}
        }
    }
    g.config = g
        .config
        .map(|c| crate::analyze::rules::absolutize(c.trim_start_matches("python:"), cwd));
    let config_text = g
        .config
        .as_deref()
        .and_then(|c| host.read_to_string(Path::new(c)).ok());
    if let Some(text) = &config_text {
        g.writes.extend(config_writes(text));
    }
    // /dev/shm, a common --worker-tmp-dir, is the engine's to mount.
    g.writes = std::mem::take(&mut g.writes)
        .into_iter()
        .map(|(p, why)| (crate::analyze::rules::absolutize(&p, &g.app_dir), why))
        .filter(|(p, _)| !p.starts_with("/dev/") && !p.starts_with("/proc/"))
        .collect();
    let spec = positional.last().cloned().or_else(|| {
        config_text.as_deref().and_then(|t| {
            regex::Regex::new(r#"(?m)^wsgi_app\s*=\s*['"]([^'"]+)['"]"#)
                .ok()?
                .captures(t)
                .map(|c| c[1].to_string())
        })
    });
    g.app_module = spec
        .map(|s| s.split(':').next().unwrap_or_default().to_string())
        .filter(|m| !m.is_empty());
    Some(g)
}

/// The directory of a `unix:PATH` bind address.
fn socket_dir(bind: &str) -> Option<String> {
    let path = bind.strip_prefix("unix:")?;
    Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
}

/// What a Python config file sets to a string literal (or a list of them): `worker_tmp_dir`,
/// `bind` (its unix sockets) and `pidfile`.
fn config_writes(text: &str) -> Vec<(String, &'static str)> {
    let Ok(re) = regex::Regex::new(r#"(?m)^(worker_tmp_dir|bind|pidfile)\s*=\s*(.+)$"#) else {
        return Vec::new();
    };
    let Ok(literal) = regex::Regex::new(r#"['"]([^'"]+)['"]"#) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in re.captures_iter(text) {
        for v in literal.captures_iter(&c[2]) {
            let v = v[1].to_string();
            match &c[1] {
                "worker_tmp_dir" => out.push((v, "gunicorn worker_tmp_dir (config file)")),
                "bind" => out.extend(
                    socket_dir(&v).map(|d| (d, "holds gunicorn's unix socket (config file bind)")),
                ),
                _ => out.extend(Path::new(&v).parent().map(|p| {
                    (
                        p.to_string_lossy().into_owned(),
                        "holds gunicorn's pidfile (config file)",
                    )
                })),
            }
        }
    }
    out
}

impl Gunicorn {
    /// Modules gunicorn imports from a name in its settings: the worker class and the logger.
    pub fn loaded_by_name(&self) -> Vec<String> {
        let worker = match self.worker_class.as_deref().unwrap_or("sync") {
            "sync" => "gunicorn.workers.sync".to_string(),
            "gthread" => "gunicorn.workers.gthread".to_string(),
            "eventlet" => "gunicorn.workers.geventlet".to_string(),
            "gevent" | "gevent_wsgi" | "gevent_pywsgi" => "gunicorn.workers.ggevent".to_string(),
            "tornado" => "gunicorn.workers.gtornado".to_string(),
            dotted => dotted
                .trim_start_matches("egg:")
                .rsplit_once('.')
                .map_or(dotted, |(m, _)| m)
                .to_string(),
        };
        vec![
            "gunicorn.app.wsgiapp".to_string(),
            "gunicorn.glogging".to_string(),
            worker,
        ]
    }

    /// The source's command line, in the foreground (no `--daemon`), without a pid file (the
    /// engine tracks the process) and with logs on stdout/stderr.
    pub fn foreground_command(&self, cmdline: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut trimmed = cmdline.to_vec();
        while trimmed.last().is_some_and(String::is_empty) {
            trimmed.pop();
        }
        while i < trimmed.len() {
            let a = trimmed[i].as_str();
            let (opt, inline) = match a.split_once('=') {
                Some((o, v)) if a.starts_with("--") => (o, Some(v)),
                _ => (a, None),
            };
            let takes_value = inline.is_none() && i + 1 < trimmed.len();
            let skip = if takes_value { 2 } else { 1 };
            match opt {
                "-D" | "--daemon" => i += 1,
                "-p" | "--pid" => i += skip,
                "--access-logfile" => {
                    out.extend(["--access-logfile".to_string(), "-".to_string()]);
                    i += skip;
                }
                "--error-logfile" | "--log-file" => {
                    out.extend(["--error-logfile".to_string(), "-".to_string()]);
                    i += skip;
                }
                _ => {
                    out.push(a.to_string());
                    i += 1;
                }
            }
        }
        out
    }

    pub fn notes(&self, pid: i32) -> Vec<Finding> {
        let mut notes = Vec::new();
        let at = format!("pid {pid}");
        if self.daemon {
            notes.push(Finding::info(
                &at,
                "gunicorn ran with --daemon: the image runs it in the foreground",
            ));
        }
        if self.pidfile {
            notes.push(Finding::info(
                &at,
                "gunicorn's --pid file is dropped: the engine tracks the process",
            ));
        }
        if let Some(c) = &self.config {
            notes.push(Finding::info(
                &at,
                format!(
                    "gunicorn reads {c}: settings there (daemon, pidfile, log files) apply in \
                     the image as written; review them"
                ),
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(args: &[&str]) -> Invocation {
        Invocation {
            script: Some("/usr/bin/gunicorn".into()),
            module: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn reads_the_app_module_and_its_directory() {
        let host = crate::host::at("/nonexistent-root");
        let g = read(
            &host,
            &inv(&[
                "--daemon",
                "-w",
                "2",
                "--bind",
                "127.0.0.1:8000",
                "--chdir",
                "srv/app",
                "-k",
                "sync",
                "wsgi:application",
            ]),
            "/home/u",
        )
        .unwrap();
        assert_eq!(g.app_dir, "/home/u/srv/app");
        assert_eq!(g.app_module.as_deref(), Some("wsgi"));
        assert!(g.daemon);
        let plain = Invocation {
            script: Some("/usr/bin/python3".into()),
            ..Invocation::default()
        };
        assert!(read(&host, &plain, "/").is_none());
    }

    #[test]
    fn the_foreground_command_drops_daemon_and_pid_and_logs_to_the_streams() {
        let g = read(&crate::host::at("/nonexistent-root"), &inv(&[]), "/").unwrap();
        let cmd: Vec<String> = [
            "/usr/bin/python3",
            "/usr/bin/gunicorn",
            "--daemon",
            "--pid",
            "/run/g.pid",
            "--access-logfile=/var/log/a.log",
            "--error-logfile",
            "/var/log/e.log",
            "-b",
            ":80",
            "app:app",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            g.foreground_command(&cmd),
            [
                "/usr/bin/python3",
                "/usr/bin/gunicorn",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "-b",
                ":80",
                "app:app"
            ]
        );
    }
}
