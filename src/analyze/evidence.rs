//! Files no analyzer rule names but every lifted program may need: the dynamic loader's closure,
//! libraries loaded with dlopen, name-service, time zone, TLS and locale data.

use super::fileset::FileSet;
use super::Inputs;
use crate::elf::LoaderEnv;
use crate::findings::Finding;
use crate::plan::Role;
use crate::snapshot::Process;
use std::collections::BTreeSet;
use std::path::Path;

/// Loads the ELF closure of every object in `objects` (executables, mapped and dlopen'd libraries),
/// each object resolved once.
pub fn add_elf_closure(
    inp: &Inputs,
    objects: &[String],
    env: &LoaderEnv,
    files: &mut FileSet,
    findings: &mut Vec<Finding>,
) {
    let mut seen = BTreeSet::new();
    for obj in objects {
        if !seen.insert(obj.clone()) || !is_elf(inp, obj) {
            continue;
        }
        let r = inp.resolver.resolve(Path::new(obj), env);
        // A separate debug-info file (mapped while a backtrace is symbolized) keeps an empty
        // PT_INTERP: no interpreter, and no path the plan could hold.
        if let Some(interp) = r.interpreter.as_ref().filter(|i| i.is_absolute()) {
            files.add(
                &interp.to_string_lossy(),
                Role::Code,
                format!("interpreter of {obj}"),
            );
        }
        for lib in &r.libraries {
            files.add(
                &plan_path(inp, &lib.path),
                Role::Code,
                format!("needed-by {}", lib.needed_by.display()),
            );
        }
        for m in &r.missing {
            findings.push(Finding::warning(
                &m.name,
                format!(
                    "needed by {} but not found by the loader's search",
                    m.needed_by.display()
                ),
            ));
        }
        for w in &r.warnings {
            findings.push(Finding::warning(obj, w.clone()));
        }
    }
}

/// The loader keeps `$ORIGIN/../lib` as written (`/opt/x/bin/../lib/liby.so`); a plan names
/// files without `..`, so such a path is taken as the file it resolves to.
pub fn plan_path(inp: &Inputs, path: &Path) -> String {
    let has_dots = path.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    });
    match inp.host.real_path(path) {
        Ok(real) if has_dots => real.to_string_lossy().into_owned(),
        _ => path.to_string_lossy().into_owned(),
    }
}

fn is_elf(inp: &Inputs, path: &str) -> bool {
    inp.host
        .read_limited(Path::new(path), 4)
        .is_ok_and(|b| b == b"\x7fELF")
}

/// Adds what the C library reads at run time on the program's behalf, and objects it dlopens.
pub fn add_system_files(
    inp: &Inputs,
    root: &Process,
    files: &mut FileSet,
    elf_objects: &mut Vec<String>,
) {
    let mut add_if_exists = |path: &str, why: &str| {
        if inp.host.exists(Path::new(path)) {
            files.add(path, Role::Config, why.to_string());
        }
    };
    add_if_exists(
        "/etc/nsswitch.conf",
        "name-service switch read by the C library",
    );
    add_if_exists(
        "/etc/ld.so.cache",
        "the dynamic loader's cache, read at every start and dlopen",
    );
    add_if_exists("/etc/localtime", "time zone of the source host");
    add_if_exists("/etc/timezone", "time zone name of the source host");
    if let Some(exe) = &root.exe {
        for extra in inp.resolver.dlopen_evidence(Path::new(exe)) {
            let path = extra.path.to_string_lossy().into_owned();
            files.add(&path, Role::Code, extra.reason.clone());
            elf_objects.push(path);
        }
    }
    let uses_tls = files
        .paths()
        .any(|p| p.contains("/libssl.so") || p.contains("/libgnutls.so") || p.contains("/libcurl"));
    let mapped_tls = root
        .maps
        .iter()
        .any(|m| m.contains("/libssl.so") || m.contains("/libgnutls.so"));
    if uses_tls || mapped_tls || elf_links_tls(inp, root) {
        for path in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/usr/lib/ssl/openssl.cnf",
            "/etc/ssl/openssl.cnf",
        ] {
            if inp.host.exists(Path::new(path)) {
                files.add(
                    path,
                    Role::Config,
                    "TLS is linked: CA certificates and OpenSSL configuration",
                );
            }
        }
    }
    add_locale(inp, root, files);
}

fn elf_links_tls(inp: &Inputs, root: &Process) -> bool {
    let Some(exe) = &root.exe else { return false };
    let r = inp.resolver.resolve(Path::new(exe), &LoaderEnv::default());
    r.libraries
        .iter()
        .any(|l| l.name.starts_with("libssl") || l.name.starts_with("libgnutls"))
}

/// A process with LANG or LC_* set reads that locale's files and the alias table at start-up.
/// Processes that rewrite their title lose their environment block, but the locale files they
/// mapped still say which locale they run in.
fn add_locale(inp: &Inputs, root: &Process, files: &mut FileSet) {
    let mut locales: BTreeSet<String> = ["LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| root.env(k))
        .filter(|v| !v.is_empty() && *v != "C" && *v != "POSIX")
        .map(normalize_locale)
        .collect();
    locales.extend(mapped_locales(root));
    if locales.is_empty() {
        return;
    }
    for alias in ["/etc/locale.alias", "/usr/share/locale/locale.alias"] {
        if inp.host.exists(Path::new(alias)) {
            files.add(alias, Role::Config, "locale aliases read by setlocale");
        }
    }
    for name in locales {
        let dir = format!("/usr/lib/locale/{name}");
        let found = super::glob::expand(inp.host, &dir);
        for f in &found {
            files.add(
                &f.to_string_lossy(),
                Role::Code,
                format!("locale {name} of the process environment"),
            );
        }
        if found.is_empty() && inp.host.exists(Path::new("/usr/lib/locale/locale-archive")) {
            files.add(
                "/usr/lib/locale/locale-archive",
                Role::Code,
                format!("locale {name} of the process environment (compiled archive)"),
            );
        }
    }
}

/// Locale names whose files the process has mapped (`/usr/lib/locale/C.utf8/LC_CTYPE`).
pub fn mapped_locales(p: &Process) -> BTreeSet<String> {
    p.maps
        .iter()
        .filter_map(|m| m.strip_prefix("/usr/lib/locale/"))
        .filter_map(|rest| rest.split_once('/').map(|(name, _)| name.to_string()))
        .filter(|name| name != "locale-archive")
        .collect()
}

/// glibc's normalization: `C.UTF-8` is looked up as `C.utf8`.
fn normalize_locale(v: &str) -> String {
    match v.split_once('.') {
        Some((lang, codeset)) => {
            let cs: String = codeset
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            format!("{lang}.{cs}")
        }
        None => v.to_string(),
    }
}
