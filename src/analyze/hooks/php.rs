//! PHP embedded in a server (mod_php): the ini files it reads at startup and the extensions they
//! name. Neither is held open nor always mapped, yet without the ini files a lifted PHP starts
//! without its extensions and the pages that use them fail.
//!
//! PHP's rules, as php_ini.c applies them: the main ini is the SAPI's override (`PHPIniDir`) or
//! the first of `php-<sapi>.ini`, `php.ini` in `$PHPRC` then the compiled-in directory; then
//! every `*.ini` of the scan directory (`$PHP_INI_SCAN_DIR`, where an empty entry means the
//! compiled-in one), in name order. `extension=NAME` is `extension_dir/NAME`, or `NAME.so`.

use super::super::draft::Draft;
use super::super::syntax;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::Role;
use std::path::{Path, PathBuf};

/// Bytes of the PHP library searched for its compiled-in paths.
const MAX_LIBRARY_SCAN: u64 = 64 << 20;
/// The SAPI name mod_php registers; it picks `php-apache2handler.ini` before `php.ini`.
const SAPI: &str = "apache2handler";

/// What the server process tells PHP at startup.
#[derive(Debug, Default, Clone)]
pub struct PhpEnv {
    pub phprc: Option<String>,
    pub scan_dir: Option<String>,
    /// Apache's `PHPIniDir` (a directory or a file).
    pub ini_dir_override: Option<PathBuf>,
}

/// Paths compiled into the PHP library.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Compiled {
    pub config_dir: Option<String>,
    pub scan_dir: Option<String>,
    pub extension_dir: Option<String>,
}

/// What PHP reads at startup on this host.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Runtime {
    pub ini_files: Vec<PathBuf>,
    /// (name as written, file) for every extension found.
    pub extensions: Vec<(String, PathBuf)>,
    /// Extensions named by an ini file but not found on the host.
    pub missing: Vec<String>,
    /// The time zone files PHP's date functions read (Debian's PHP uses the system database).
    pub zoneinfo: Vec<PathBuf>,
}

/// Adds PHP's ini files, extensions and time zone data to the draft.
pub fn add_runtime(host: &dyn Host, libphp: &Path, env: &PhpEnv, d: &mut Draft) {
    let rt = runtime(host, libphp, env);
    for f in &rt.ini_files {
        d.files.add(
            &f.to_string_lossy(),
            Role::Config,
            "php: ini file read at startup (extensions, settings)",
        );
    }
    for (name, f) in &rt.extensions {
        let p = f.to_string_lossy().into_owned();
        d.files.add(
            &p,
            Role::Code,
            format!("php: extension {name} named by an ini file"),
        );
        d.elf_objects.push(p);
    }
    for name in &rt.missing {
        d.findings.push(Finding::warning(
            format!("php extension {name}"),
            "named by an ini file but not found in extension_dir: PHP will warn at startup",
        ));
    }
    for f in &rt.zoneinfo {
        d.files.add(
            &f.to_string_lossy(),
            Role::Config,
            "php: time zone of date functions (system tzdata)",
        );
    }
}

pub fn runtime(host: &dyn Host, libphp: &Path, env: &PhpEnv) -> Runtime {
    let compiled = compiled(host, libphp);
    let mut rt = Runtime::default();
    rt.ini_files.extend(main_ini(host, &compiled, env));
    rt.ini_files.extend(scanned_inis(host, &compiled, env));
    let mut names = Vec::new();
    let mut ext_dir = compiled.extension_dir.clone();
    let mut timezone = None;
    for ini in &rt.ini_files {
        let read = syntax::read(host, "keyvalue", ini);
        names.extend(read.values(&["extension", "zend_extension"]));
        if let Some(dir) = read.values(&["extension_dir"]).pop() {
            ext_dir = Some(dir);
        }
        if let Some(tz) = read.values(&["date.timezone"]).pop() {
            timezone = Some(tz);
        }
    }
    for name in names {
        match find_extension(host, ext_dir.as_deref(), &name) {
            Some(f) => rt.extensions.push((name, f)),
            None => rt.missing.push(name),
        }
    }
    let tz = timezone.filter(|t| !t.is_empty() && !t.contains(".."));
    for zone in ["UTC".to_string()].into_iter().chain(tz) {
        let f = PathBuf::from(format!("/usr/share/zoneinfo/{zone}"));
        if host.exists(&f) && !rt.zoneinfo.contains(&f) {
            rt.zoneinfo.push(f);
        }
    }
    rt
}

/// The configuration, scan and extension directories PHP was built with, from the library's
/// strings: the scan directory ends in `conf.d` or `php.d`, the ini directory is its parent, and
/// the extension directory ends in the module API number (`/usr/lib/php/20220829`).
pub fn compiled(host: &dyn Host, libphp: &Path) -> Compiled {
    let Ok(bytes) = host.read_limited(libphp, MAX_LIBRARY_SCAN) else {
        return Compiled::default();
    };
    let scan = regex::Regex::new(r"^/[\w./-]*/(conf\.d|php\.d)$").expect("valid regex");
    let ext = regex::Regex::new(r"^/[\w./-]*php[\w./-]*[/-]\d{8}$").expect("valid regex");
    let mut out = Compiled::default();
    for s in super::super::vars::printable_runs(&bytes) {
        if out.scan_dir.is_none() && scan.is_match(s) {
            out.scan_dir = Some(s.to_string());
        } else if out.extension_dir.is_none() && ext.is_match(s) {
            out.extension_dir = Some(s.to_string());
        }
    }
    out.config_dir = out
        .scan_dir
        .as_deref()
        .and_then(|s| Path::new(s).parent())
        .map(|p| p.to_string_lossy().into_owned());
    out
}

fn main_ini(host: &dyn Host, compiled: &Compiled, env: &PhpEnv) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match &env.ini_dir_override {
        Some(o) if host.stat(o).is_ok_and(|m| m.is_file()) => return Some(o.clone()),
        Some(o) => vec![o.clone()],
        None => env
            .phprc
            .iter()
            .chain(compiled.config_dir.iter())
            .map(PathBuf::from)
            .collect(),
    };
    dirs.iter()
        .flat_map(|d| [d.join(format!("php-{SAPI}.ini")), d.join("php.ini")])
        .find(|f| host.stat(f).is_ok_and(|m| m.is_file()))
}

fn scanned_inis(host: &dyn Host, compiled: &Compiled, env: &PhpEnv) -> Vec<PathBuf> {
    let dirs: Vec<String> = match &env.scan_dir {
        Some(list) => list
            .split(':')
            .filter_map(|d| {
                if d.is_empty() {
                    compiled.scan_dir.clone()
                } else {
                    Some(d.to_string())
                }
            })
            .collect(),
        None => compiled.scan_dir.iter().cloned().collect(),
    };
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = host.read_dir(Path::new(&dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".ini"))
            .collect();
        names.sort();
        for n in names {
            let f = Path::new(&dir).join(n);
            if host.stat(&f).is_ok_and(|m| m.is_file()) {
                out.push(f);
            }
        }
    }
    out
}

/// `extension=mbstring`, `extension=mbstring.so` or an absolute path, as PHP looks them up.
fn find_extension(host: &dyn Host, ext_dir: Option<&str>, name: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = if name.starts_with('/') {
        vec![PathBuf::from(name)]
    } else {
        let dir = ext_dir?;
        let mut c = vec![Path::new(dir).join(name)];
        if !name.ends_with(".so") {
            c.push(Path::new(dir).join(format!("{name}.so")));
        }
        c
    };
    candidates
        .into_iter()
        .map(|c| crate::host::normalize(&c))
        .find(|c| host.stat(c).is_ok_and(|m| m.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A host root with Debian's PHP 8.2 layout for mod_php.
    fn debian_php() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let w = |p: &str, text: &[u8]| {
            let f = r.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        };
        w(
            "/usr/lib/apache2/modules/libphp8.2.so",
            b"\x7fELF\x02\0\0/etc/php/8.2/apache2\0/etc/php/8.2/apache2/conf.d\0\
              \x01/usr/lib/php/20220829\0/usr/lib/php\0",
        );
        w(
            "/etc/php/8.2/apache2/php.ini",
            b"[PHP]\n; extension=ldap\ndate.timezone = Europe/Berlin\n",
        );
        w(
            "/etc/php/8.2/mods-available/mbstring.ini",
            b"extension=mbstring.so\n",
        );
        w(
            "/etc/php/8.2/apache2/conf.d/10-opcache.ini",
            b"zend_extension=opcache\n",
        );
        w(
            "/etc/php/8.2/apache2/conf.d/30-gone.ini",
            b"extension=gone\n",
        );
        w(
            "/etc/php/8.2/apache2/conf.d/README",
            b"extension=not-an-ini\n",
        );
        symlink(
            "../../mods-available/mbstring.ini",
            r.join("etc/php/8.2/apache2/conf.d/20-mbstring.ini"),
        )
        .unwrap();
        w("/usr/lib/php/20220829/mbstring.so", b"\x7fELF");
        w("/usr/lib/php/20220829/opcache.so", b"\x7fELF");
        w("/usr/share/zoneinfo/UTC", b"TZif");
        w("/usr/share/zoneinfo/Europe/Berlin", b"TZif");
        w("/srv/site/php/php.ini", b"extension=/opt/ext/custom.so\n");
        w("/opt/ext/custom.so", b"\x7fELF");
        dir
    }

    #[test]
    fn compiled_paths_come_from_the_library_strings() {
        let dir = debian_php();
        let c = compiled(
            &crate::host::at(dir.path()),
            Path::new("/usr/lib/apache2/modules/libphp8.2.so"),
        );
        assert_eq!(c.config_dir.as_deref(), Some("/etc/php/8.2/apache2"));
        assert_eq!(c.scan_dir.as_deref(), Some("/etc/php/8.2/apache2/conf.d"));
        assert_eq!(c.extension_dir.as_deref(), Some("/usr/lib/php/20220829"));
    }

    #[test]
    fn ini_files_name_the_extensions_to_take() {
        let dir = debian_php();
        let host = crate::host::at(dir.path());
        let rt = runtime(
            &host,
            Path::new("/usr/lib/apache2/modules/libphp8.2.so"),
            &PhpEnv::default(),
        );
        let conf_d = Path::new("/etc/php/8.2/apache2/conf.d");
        assert_eq!(
            rt.ini_files,
            [
                PathBuf::from("/etc/php/8.2/apache2/php.ini"),
                conf_d.join("10-opcache.ini"),
                conf_d.join("20-mbstring.ini"),
                conf_d.join("30-gone.ini"),
            ]
        );
        assert_eq!(
            rt.extensions,
            [
                (
                    "opcache".to_string(),
                    PathBuf::from("/usr/lib/php/20220829/opcache.so")
                ),
                (
                    "mbstring.so".to_string(),
                    PathBuf::from("/usr/lib/php/20220829/mbstring.so")
                ),
            ]
        );
        assert_eq!(rt.missing, ["gone"]);
        assert_eq!(
            rt.zoneinfo,
            [
                PathBuf::from("/usr/share/zoneinfo/UTC"),
                PathBuf::from("/usr/share/zoneinfo/Europe/Berlin")
            ]
        );
    }

    #[test]
    fn php_ini_dir_and_scan_dir_from_the_server_override_the_compiled_ones() {
        let dir = debian_php();
        let host = crate::host::at(dir.path());
        let env = PhpEnv {
            phprc: None,
            scan_dir: Some("/nowhere".to_string()),
            ini_dir_override: Some(PathBuf::from("/srv/site/php")),
        };
        let rt = runtime(
            &host,
            Path::new("/usr/lib/apache2/modules/libphp8.2.so"),
            &env,
        );
        assert_eq!(rt.ini_files, [PathBuf::from("/srv/site/php/php.ini")]);
        assert_eq!(
            rt.extensions,
            [(
                "/opt/ext/custom.so".to_string(),
                PathBuf::from("/opt/ext/custom.so")
            )]
        );
        // An empty entry in PHP_INI_SCAN_DIR means the compiled-in directory.
        let env = PhpEnv {
            scan_dir: Some(":/nowhere".to_string()),
            ..PhpEnv::default()
        };
        let rt = runtime(
            &host,
            Path::new("/usr/lib/apache2/modules/libphp8.2.so"),
            &env,
        );
        assert_eq!(rt.ini_files.len(), 4, "{:?}", rt.ini_files);
    }
}
