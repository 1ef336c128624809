//! Libraries and data files that glibc itself `dlopen`s or reads on a program's behalf, inferred
//! from the symbols the object imports:
//! - NSS modules named in nsswitch.conf for the databases its lookups use (`files` and `dns` are
//!   built into libc since glibc 2.34, so only older roots need those modules);
//! - libgcc_s.so.1, which libc loads to unwind for `pthread_cancel`/`pthread_exit` and for
//!   `backtrace`;
//! - the gconv module configuration for `iconv_open` (which charset modules a program converts
//!   to is run-time data; conversions between UTF-8, ASCII and Latin-1 are built in).
//!
//! Not inferable here: `getaddrinfo(AI_IDN)` loading libidn2, and application-level dlopen (the
//! lead's analyzers and /proc/PID/maps cover those).

use std::path::{Path, PathBuf};

use super::resolve::{verify, Probe, Resolver, Verdict};
use super::target::Target;
use super::Extra;

/// Imported functions and the NSS databases they consult.
const NSS_USERS: &[(&str, &[&str])] = &[
    (
        "passwd",
        &[
            "getpwnam",
            "getpwnam_r",
            "getpwuid",
            "getpwuid_r",
            "getpwent",
            "getpwent_r",
        ],
    ),
    (
        "group",
        &[
            "getgrnam",
            "getgrnam_r",
            "getgrgid",
            "getgrgid_r",
            "getgrent",
            "getgrent_r",
            "getgrouplist",
            "initgroups",
        ],
    ),
    (
        "shadow",
        &["getspnam", "getspnam_r", "getspent", "getspent_r"],
    ),
    ("gshadow", &["getsgnam", "getsgnam_r", "getsgent"]),
    (
        "hosts",
        &[
            "gethostbyname",
            "gethostbyname_r",
            "gethostbyname2",
            "gethostbyname2_r",
            "gethostbyaddr",
            "gethostbyaddr_r",
            "gethostent",
            "getaddrinfo",
            "getnameinfo",
            "rcmd",
            "rcmd_af",
            "ruserok",
        ],
    ),
    (
        "services",
        &[
            "getservbyname",
            "getservbyname_r",
            "getservbyport",
            "getservbyport_r",
            "getservent",
            "getaddrinfo",
            "getnameinfo",
        ],
    ),
    (
        "protocols",
        &[
            "getprotobyname",
            "getprotobyname_r",
            "getprotobynumber",
            "getprotobynumber_r",
            "getprotoent",
        ],
    ),
    (
        "networks",
        &[
            "getnetbyname",
            "getnetbyname_r",
            "getnetbyaddr",
            "getnetbyaddr_r",
            "getnetent",
        ],
    ),
    (
        "rpc",
        &[
            "getrpcbyname",
            "getrpcbyname_r",
            "getrpcbynumber",
            "getrpcbynumber_r",
            "getrpcent",
        ],
    ),
    ("ethers", &["ether_hostton", "ether_ntohost"]),
    (
        "netgroup",
        &["innetgr", "setnetgrent", "getnetgrent", "getnetgrent_r"],
    ),
    (
        "aliases",
        &["getaliasbyname", "getaliasbyname_r", "getaliasent"],
    ),
];
const UNWIND_USERS: &[&str] = &["pthread_cancel", "pthread_exit", "backtrace"];
const MAX_NSSWITCH_BYTES: u64 = 1 << 20;

pub(crate) fn collect(r: &Resolver, file: &Path) -> Vec<Extra> {
    let path = file.to_string_lossy().into_owned();
    let Probe::Found(found) = r.probe_direct(&path) else {
        return Vec::new();
    };
    let Some(abi) = found.obj.abi else {
        return Vec::new();
    };
    let Ok(imports) = r.imports(&path) else {
        return Vec::new();
    };
    let target = r.target(abi);
    let uses = |names: &[&str]| imports.iter().any(|i| names.contains(&i.as_str()));
    let mut extras = Vec::new();
    nss(r, &target, &uses, &mut extras);
    if uses(UNWIND_USERS) {
        if let Some(p) = find_library(r, &target, "libgcc_s.so.1") {
            extras.push(Extra {
                path: p,
                reason:
                    "libc loads libgcc_s.so.1 to unwind for thread cancellation/exit or backtrace"
                        .into(),
            });
        }
    }
    if uses(&["iconv_open"]) {
        gconv(r, &target, &mut extras);
    }
    extras
}

fn nss(r: &Resolver, target: &Target, uses: &dyn Fn(&[&str]) -> bool, extras: &mut Vec<Extra>) {
    let databases: Vec<&str> = NSS_USERS
        .iter()
        .filter(|(_, f)| uses(f))
        .map(|(db, _)| *db)
        .collect();
    if databases.is_empty() {
        return;
    }
    let conf = r
        .host()
        .read_limited(Path::new("/etc/nsswitch.conf"), MAX_NSSWITCH_BYTES)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let builtin = files_dns_builtin(r, target);
    for db in databases {
        let services = services_for(&conf, db);
        for service in &services {
            if builtin && (service == "files" || service == "dns") {
                continue;
            }
            let module = format!("libnss_{service}.so.2");
            let Some(p) = find_library(r, target, &module) else {
                continue;
            };
            if extras.iter().any(|e| e.path == p) {
                continue;
            }
            extras.push(Extra {
                path: p,
                reason: format!(
                    "NSS module for {db} (nsswitch.conf: {})",
                    services.join(" ")
                ),
            });
        }
    }
}

/// The services of one database line, without `[STATUS=action]` items; glibc's defaults when
/// the line (or the file) is absent.
pub(crate) fn services_for(conf: &str, db: &str) -> Vec<String> {
    let lookup = |name: &str| {
        conf.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.to_string())
            })
    };
    let line = lookup(db).or_else(|| (db == "group").then(|| lookup("initgroups")).flatten());
    let Some(line) = line else {
        let default = if db == "hosts" { "dns files" } else { "files" };
        return default.split(' ').map(str::to_string).collect();
    };
    let mut out = Vec::new();
    let mut in_action = false;
    for word in line.split_whitespace() {
        if word.starts_with('[') {
            in_action = !word.ends_with(']');
            continue;
        }
        if in_action {
            in_action = !word.ends_with(']');
            continue;
        }
        out.push(word.to_string());
    }
    out
}

/// glibc 2.34 folded nss_files and nss_dns into libc; its libc defines version GLIBC_2.34.
fn files_dns_builtin(r: &Resolver, target: &Target) -> bool {
    if let Some(&b) = super::resolve::lock(&r.glibc_234).get(&target.abi) {
        return b;
    }
    let builtin = find_library(r, target, "libc.so.6")
        .and_then(|p| dynstr_contains(r, &p, b"GLIBC_2.34\0"))
        .unwrap_or(true);
    super::resolve::lock(&r.glibc_234).insert(target.abi, builtin);
    builtin
}

fn dynstr_contains(r: &Resolver, path: &Path, needle: &[u8]) -> Option<bool> {
    let Probe::Found(found) = r.probe(&path.to_string_lossy()) else {
        return None;
    };
    let (off, size) = found.obj.dynstr?;
    let file = r.host().open(path).ok()?;
    let size_on_disk = file.metadata().ok()?.len();
    let src = super::object::SizedFile {
        file,
        size: size_on_disk,
    };
    let bytes = super::object::read_range(&src, off, size.min(16 << 20)).ok()?;
    Some(bytes.windows(needle.len()).any(|w| w == needle))
}

/// What dlopen from libc would find for a bare name: ld.so.cache, then the default directories
/// (no RPATH applies to libc's own requests in practice).
fn find_library(r: &Resolver, target: &Target, name: &str) -> Option<PathBuf> {
    let hw = r.hwcaps(target);
    let mut candidates = Vec::new();
    if let Some(cache) = &r.cache {
        if let Some(hit) = cache.lookup(
            name,
            target.cache_flags,
            |f| target.accepts_cache_flags(f),
            |s| hw.priority(s),
        ) {
            candidates.push(hit.path);
        }
    } else {
        candidates.extend(r.conf_dirs.iter().map(|d| super::search::join(d, name)));
    }
    for dir in &target.default_dirs {
        for sub in &hw.subdirs {
            let d = if sub.is_empty() {
                dir.clone()
            } else {
                format!("{dir}/{sub}")
            };
            candidates.push(super::search::join(&d, name));
        }
    }
    candidates.into_iter().find_map(|c| match r.probe(&c) {
        Probe::Found(f) if matches!(verify(&f, target), Verdict::Load) => Some(PathBuf::from(c)),
        _ => None,
    })
}

/// The gconv configuration files under the first gconv directory that exists.
fn gconv(r: &Resolver, target: &Target, extras: &mut Vec<Extra>) {
    let host = r.host();
    let Some(dir) = target
        .default_dirs
        .iter()
        .filter(|d| d.starts_with("/usr/"))
        .map(|d| PathBuf::from(d).join("gconv"))
        .find(|d| host.exists(d))
    else {
        return;
    };
    let reason = "gconv configuration for iconv_open (charset modules depend on run-time data)";
    for f in ["gconv-modules", "gconv-modules.cache"] {
        let p = dir.join(f);
        if host.exists(&p) {
            extras.push(Extra {
                path: p,
                reason: reason.into(),
            });
        }
    }
    let d = dir.join("gconv-modules.d");
    for name in host.read_dir(&d).unwrap_or_default() {
        if name.to_string_lossy().ends_with(".conf") {
            extras.push(Extra {
                path: d.join(name),
                reason: reason.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::services_for;

    #[test]
    fn nsswitch_lines_and_defaults() {
        let conf = "passwd: files [NOTFOUND=return] systemd # c\nhosts: files [ !UNAVAIL=return ] mdns4_minimal dns\n";
        assert_eq!(services_for(conf, "passwd"), vec!["files", "systemd"]);
        assert_eq!(
            services_for(conf, "hosts"),
            vec!["files", "mdns4_minimal", "dns"]
        );
        assert_eq!(services_for("", "hosts"), vec!["dns", "files"]);
        assert_eq!(services_for("initgroups: db\n", "group"), vec!["db"]);
    }
}
