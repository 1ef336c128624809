//! Apache httpd: modules named by `LoadModule`/`LoadFile` (second argument, relative to
//! ServerRoot), aliased content, a foreground entrypoint built from the original command line,
//! and mod_php's own configuration when it is loaded.

use crate::analyze::draft::Draft;
use crate::analyze::hooks::{php, HookContext};
use crate::analyze::syntax::ConfigRead;
use crate::findings::Finding;
use crate::host::normalize;
use crate::plan::Role;
use std::path::{Path, PathBuf};

pub mod conf;

pub fn hook(cx: &HookContext, d: &mut Draft) {
    if let Some(entrypoint) = foreground_command(&cx.process.cmdline, cx.process.exe.as_deref()) {
        d.entrypoint = Some(entrypoint);
    }
    let Some(config) = cx.config else {
        return;
    };
    let root = server_root(
        config,
        d.vars.first("server_root").unwrap_or("/etc/apache2"),
    );
    let host = cx.inputs.host;
    for (directive, path) in loaded_objects(config, &root) {
        if host.stat(&path).is_ok_and(|m| m.is_file()) {
            let p = path.to_string_lossy().into_owned();
            d.files
                .add(&p, Role::Code, format!("apache: dlopen'd by {directive}"));
            d.elf_objects.push(p);
        } else {
            d.findings.push(Finding::warning(
                format!("apache {directive}"),
                format!("{} does not exist on the host", path.display()),
            ));
        }
    }
    for dir in aliased(config, &root) {
        for f in crate::analyze::glob::expand(host, &dir.to_string_lossy()) {
            d.files.add(
                &f.to_string_lossy(),
                Role::Code,
                format!("apache: content under an Alias ({})", dir.display()),
            );
        }
    }
    for dir in mutex_dirs(config, &root) {
        d.add_dir(
            dir.to_string_lossy(),
            "apache: Mutex file directory, must exist",
        );
    }
    for (directive, dir) in cache_file_dirs(config, &root) {
        d.add_dir(
            dir.to_string_lossy(),
            format!("apache: holds the {directive} file, made at start"),
        );
    }
    if let Some(libphp) = mod_php(config, &root) {
        let ini_dir = config
            .values(&["PHPIniDir"])
            .last()
            .map(|p| normalize(&root.join(p)));
        let env = php::PhpEnv {
            phprc: cx.process.env("PHPRC").map(str::to_string),
            scan_dir: cx.process.env("PHP_INI_SCAN_DIR").map(str::to_string),
            ini_dir_override: ini_dir,
        };
        php::add_runtime(host, &libphp, &env, d);
    }
}

/// The command line that ran the server, made to stay in the foreground: `-k start` (which
/// daemonizes, and with `-k` anything but start means no server) is dropped, `-DFOREGROUND` added.
pub fn foreground_command(cmdline: &[String], exe: Option<&str>) -> Option<Vec<String>> {
    let mut args = cmdline.iter().filter(|a| !a.is_empty());
    let first = args.next()?;
    let program = match exe {
        Some(exe) if !first.starts_with('/') => exe.to_string(),
        _ => first.clone(),
    };
    let mut out = vec![program];
    let mut skip_next = false;
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        match a.as_str() {
            "-k" => skip_next = true,
            "-DFOREGROUND" => {}
            a if a.starts_with("-k") => {}
            _ => out.push(a.clone()),
        }
    }
    // `-D FOREGROUND` given as two words stays as it is; adding ours again is harmless.
    out.push("-DFOREGROUND".to_string());
    Some(out)
}

/// The last `ServerRoot` the configuration sets, over the one from `-d` or compiled in.
fn server_root(config: &ConfigRead, from_cmdline: &str) -> PathBuf {
    config
        .values(&["ServerRoot"])
        .iter()
        .fold(PathBuf::from(from_cmdline), |root, r| {
            normalize(&root.join(r))
        })
}

/// (directive, path) of every `LoadModule name path` and `LoadFile path …`.
fn loaded_objects(config: &ConfigRead, root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for d in &config.directives {
        let paths: &[String] = if d.name.eq_ignore_ascii_case("loadmodule") {
            d.args.get(1..2).unwrap_or_default()
        } else if d.name.eq_ignore_ascii_case("loadfile") {
            &d.args
        } else {
            continue;
        };
        for p in paths {
            let label = format!("{} {}", d.name, d.args.first().cloned().unwrap_or_default());
            out.push((label, normalize(&root.join(p))));
        }
    }
    out
}

/// Directories and files served under `Alias`/`ScriptAlias` (their second argument).
fn aliased(config: &ConfigRead, root: &Path) -> Vec<PathBuf> {
    config
        .directives
        .iter()
        .filter(|d| {
            ["alias", "scriptalias"]
                .iter()
                .any(|n| d.name.eq_ignore_ascii_case(n))
        })
        .filter_map(|d| d.args.get(1))
        .map(|p| normalize(&root.join(p)))
        .collect()
}

/// Directories of `Mutex file:DIR …` lock files.
fn mutex_dirs(config: &ConfigRead, root: &Path) -> Vec<PathBuf> {
    config
        .directives
        .iter()
        .filter(|d| d.name.eq_ignore_ascii_case("mutex"))
        .flat_map(|d| d.args.iter())
        .filter_map(|a| a.strip_prefix("file:"))
        .map(|dir| normalize(&root.join(dir)))
        .collect()
}

/// Directories of the files `SSLSessionCache` and `SSLStaplingCache` name (`shmcb:/path(512000)`,
/// `dbm:/path`): mod_ssl makes them at start and apache exits when it cannot.
fn cache_file_dirs(config: &ConfigRead, root: &Path) -> Vec<(String, PathBuf)> {
    config
        .directives
        .iter()
        .filter(|d| {
            ["sslsessioncache", "sslstaplingcache"].contains(&d.name.to_ascii_lowercase().as_str())
        })
        .filter_map(|d| {
            let arg = d.args.first()?;
            let (kind, rest) = arg.split_once(':')?;
            if !["shmcb", "shmht", "dbm", "sdbm", "gdbm", "ndbm"].contains(&kind) {
                return None;
            }
            let file = rest.split('(').next()?;
            let dir = normalize(&root.join(file)).parent()?.to_path_buf();
            Some((d.name.clone(), dir))
        })
        .collect()
}

/// The path of mod_php's library when the configuration loads it (`libphp8.2.so`, `libphp7.so`,
/// `mod_php7.so`).
fn mod_php(config: &ConfigRead, root: &Path) -> Option<PathBuf> {
    loaded_objects(config, root)
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with("libphp") || n.starts_with("mod_php"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::syntax::Directive;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn foreground_command_drops_k_start_and_keeps_the_rest() {
        assert_eq!(
            foreground_command(
                &s(&["apache2", "-d", "/srv/h", "-f", "h.conf", "-k", "start", "-DSSL"]),
                Some("/usr/sbin/apache2")
            )
            .unwrap(),
            s(&[
                "/usr/sbin/apache2",
                "-d",
                "/srv/h",
                "-f",
                "h.conf",
                "-DSSL",
                "-DFOREGROUND"
            ])
        );
        assert_eq!(
            foreground_command(&s(&["/usr/sbin/httpd", "-DFOREGROUND"]), None).unwrap(),
            s(&["/usr/sbin/httpd", "-DFOREGROUND"])
        );
        assert!(foreground_command(&[], None).is_none());
    }

    #[test]
    fn modules_are_the_second_argument_relative_to_server_root() {
        let dir = |name: &str, args: &[&str]| Directive {
            name: name.into(),
            args: s(args),
            file: "/x.conf".into(),
            line: 1,
        };
        let config = ConfigRead {
            directives: vec![
                dir("ServerRoot", &["/etc/httpd"]),
                dir("LoadModule", &["php_module", "modules/libphp8.2.so"]),
                dir(
                    "loadmodule",
                    &["dir_module", "/usr/lib/apache2/modules/mod_dir.so"],
                ),
                dir("LoadFile", &["/usr/lib/libxml2.so.2"]),
                dir("Alias", &["/icons/", "/usr/share/apache2/icons/"]),
                dir("Mutex", &["file:/var/lock/apache2", "default"]),
            ],
            fold_case: true,
            ..ConfigRead::default()
        };
        let root = server_root(&config, "/etc/apache2");
        assert_eq!(root, PathBuf::from("/etc/httpd"));
        let paths: Vec<PathBuf> = loaded_objects(&config, &root)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/etc/httpd/modules/libphp8.2.so"),
                PathBuf::from("/usr/lib/apache2/modules/mod_dir.so"),
                PathBuf::from("/usr/lib/libxml2.so.2"),
            ]
        );
        assert_eq!(
            mod_php(&config, &root),
            Some(PathBuf::from("/etc/httpd/modules/libphp8.2.so"))
        );
        assert_eq!(
            aliased(&config, &root),
            [PathBuf::from("/usr/share/apache2/icons")]
        );
        assert_eq!(
            mutex_dirs(&config, &root),
            [PathBuf::from("/var/lock/apache2")]
        );
    }
}
