//! PHP on the command line (`php app.php`, `php -S addr -t docroot router.php`): the script, the
//! static closure of its `include`/`require` (relative to the including file, `__DIR__`, the
//! cwd), and what PHP reads at start-up: its ini files and the extensions they load, found by
//! PHP's own rules as for mod_php.

use super::{dir_of, is_file, literal_files, quoted, read_source, script_arg, Queue};
use crate::analyze::hooks::php as rules;
use crate::analyze::rules::absolutize;
use crate::analyze::sources::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use crate::snapshot::Process;
use std::path::{Path, PathBuf};

const WITH_VALUE: &[&str] = &["-c", "-d", "-S", "-t", "-z"];
const INLINE: &[&str] = &["-r", "-a", "-R", "-B", "-E"];

pub fn closure(inp: &Inputs, app: &AppFacts, p: &Process) -> Found {
    let mut found = Found::default();
    let Some(exe) = p.exe.as_deref() else {
        return found;
    };
    let args = p.cmdline.get(1..).unwrap_or_default();
    let cwd = p.cwd.clone().unwrap_or_else(|| "/".to_string());
    let ini_override = super::option_values(args, "-c", None)
        .first()
        .map(|c| PathBuf::from(absolutize(c, &cwd)));
    let env = rules::PhpEnv {
        phprc: p.env("PHPRC").map(str::to_string),
        scan_dir: p.env("PHP_INI_SCAN_DIR").map(str::to_string),
        ini_dir_override: ini_override,
    };
    let rt = rules::runtime(inp.host, Path::new(exe), &env);
    for f in &rt.ini_files {
        found.file(
            f.to_string_lossy(),
            Role::Config,
            "php: ini file read at start-up",
            Confidence::Declared,
        );
    }
    for (name, f) in &rt.extensions {
        found.file(
            f.to_string_lossy(),
            Role::Code,
            format!("php: extension {name} an ini file loads"),
            Confidence::Declared,
        );
    }
    for f in &rt.zoneinfo {
        found.file(
            f.to_string_lossy(),
            Role::Config,
            "php: time zone of date functions",
            Confidence::Declared,
        );
    }
    let mut files = Queue::new();
    // `-f file` reads as a flag and then the script.
    if let Some(script) = script_arg(args, WITH_VALUE, INLINE) {
        let script = absolutize(script, &cwd);
        if is_file(inp, &script) {
            found.script(&script, "php", p.pid);
            files.push(&script);
        }
    }
    // The built-in server (`-S`) runs whichever page a request names: every page of its
    // docroot is an entry point, so what they include is found before any request, not only
    // when a trial's probe happens to reach it.
    if args.iter().any(|a| a == "-S") {
        let docroot = super::option_values(args, "-t", None)
            .first()
            .map_or_else(|| cwd.clone(), |t| absolutize(t, &cwd));
        for page in pages(inp, &docroot) {
            found.file(
                &page,
                Role::Code,
                format!(
                    "a page php -S serves from its docroot {docroot} (pid {})",
                    p.pid
                ),
                Confidence::Declared,
            );
            files.push(&page);
        }
    }
    while let Some(file) = files.pop() {
        let Some(text) = read_source(inp, &file) else {
            continue;
        };
        let dir = dir_of(&file);
        for target in includes(&text, &dir) {
            let candidates = if target.starts_with('/') {
                vec![target.clone()]
            } else {
                vec![absolutize(&target, &cwd), absolutize(&target, &dir)]
            };
            let candidates = candidates.into_iter().map(|c| {
                crate::host::normalize(Path::new(&c))
                    .to_string_lossy()
                    .into_owned()
            });
            if let Some(f) = candidates.into_iter().find(|f| is_file(inp, f)) {
                found.file(
                    &f,
                    Role::Code,
                    format!("included by {file}"),
                    Confidence::Declared,
                );
                files.push(&f);
            }
        }
        let bases = vec![dir.clone(), cwd.clone()];
        literal_files(inp, app, &file, &text, &bases, &mut found);
    }
    found
}

/// The `.php` files under a docroot, in name order, as many as a closure reads.
fn pages(inp: &Inputs, docroot: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut visit = |w: crate::host::Walked| {
        if w.file_type.is_file() && w.path.extension().is_some_and(|e| e == "php") {
            out.push(w.path.to_string_lossy().into_owned());
        }
        out.len() < super::MAX_FILES
    };
    inp.host
        .walk(Path::new(docroot), 8, &mut visit, &mut |_, _| {});
    out
}

/// `include 'x.php'`, `require_once __DIR__ . '/lib/y.php'`, `include("z.php")`: the paths,
/// `__DIR__` replaced by the file's directory.
pub fn includes(text: &str, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let Some(at) = ["include_once", "require_once", "include", "require"]
            .iter()
            .find_map(|k| t.find(k).map(|i| (i, k.len())))
        else {
            continue;
        };
        let rest = &t[at.0 + at.1..];
        let Some(q) = quoted(rest).first().map(|q| q.to_string()) else {
            continue;
        };
        let before = &rest[..rest.find(q.as_str()).unwrap_or(0)];
        if before.contains("__DIR__") || before.contains("dirname(__FILE__)") {
            out.push(format!("{dir}/{}", q.trim_start_matches('/')));
        } else {
            out.push(q);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{has, process, Fixture};
    use super::*;

    #[test]
    fn includes_and_ini_of_a_cli_script() {
        assert_eq!(
            includes(
                "<?php\nrequire_once __DIR__ . '/lib/a.php';\ninclude('b.php');\n",
                "/srv/p"
            ),
            ["/srv/p/lib/a.php", "b.php"]
        );
        let fx = Fixture::new();
        fx.write(
            "/srv/p/app.php",
            "<?php\nrequire_once __DIR__ . '/lib/a.php';\n",
        )
        .write("/srv/p/lib/a.php", "<?php include 'b.php';\n")
        .write("/srv/p/b.php", "<?php\n")
        .write("/etc/php/8.2/cli/php.ini", "extension=mbstring\n")
        .write("/etc/php/8.2/cli/conf.d/10-opcache.ini", "")
        .write("/usr/lib/php/20220829/mbstring.so", "\x7fELF")
        .write(
            "/usr/bin/php8.2",
            b"\x7fELF\0/etc/php/8.2/cli\0/etc/php/8.2/cli/conf.d\0/usr/lib/php/20220829\0"
                .as_slice(),
        );
        let p = process("/usr/bin/php8.2", &["php", "app.php"], "/srv/p");
        let found = fx.run(super::super::closure, p, &[]);
        for f in [
            "/srv/p/app.php",
            "/srv/p/lib/a.php",
            "/srv/p/b.php",
            "/etc/php/8.2/cli/php.ini",
            "/etc/php/8.2/cli/conf.d/10-opcache.ini",
            "/usr/lib/php/20220829/mbstring.so",
        ] {
            assert!(has(&found, f), "{f}: {:#?}", found.evidence);
        }
    }

    #[test]
    fn the_built_in_server_s_pages_and_what_they_include() {
        let fx = Fixture::new();
        fx.write(
            "/srv/app/www/index.php",
            "<?php\nrequire __DIR__ . '/../lib/greet.php';\n",
        )
        .write("/srv/app/www/admin/users.php", "<?php include 'db.php';\n")
        .write("/srv/app/www/admin/db.php", "<?php\n")
        .write("/srv/app/lib/greet.php", "<?php\n")
        .write("/srv/app/www/style.css", "body {}\n");
        let p = process(
            "/usr/bin/php8.2",
            &["php", "-S", "127.0.0.1:8080", "-t", "www"],
            "/srv/app",
        );
        let found = fx.run(super::super::closure, p, &[]);
        assert!(
            found.evidence.iter().all(|e| !e.path.contains("..")),
            "{:#?}",
            found.evidence
        );
        for f in [
            "/srv/app/www/index.php",
            "/srv/app/www/admin/users.php",
            "/srv/app/www/admin/db.php",
            "/srv/app/lib/greet.php",
        ] {
            assert!(has(&found, f), "{f}: {:#?}", found.evidence);
        }
        assert!(!has(&found, "/srv/app/www/style.css"));
    }
}
