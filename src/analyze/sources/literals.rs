//! Cause 3: a path compiled into the program. A vendor daemon opens `/etc/<vendor>/<vendor>.conf`
//! by a literal path, once, at start: nothing but the binary names it. The path literals in the
//! read-only data (`.rodata`) of the executable and of its own libraries (those no other package
//! installed) that exist on the host under /etc, /opt, /srv, /var/lib or /usr/share are taken;
//! a directory is taken as far as it is the program's own (other packages' files left out).

use super::paths::{self, TreeRefused};
use super::{AppFacts, Found, Kind};
use crate::analyze::Inputs;
use crate::elf::object::{self, read_range, SizedFile};
use crate::elf::LoaderEnv;
use crate::plan::{Confidence, Role};
use goblin::container::{Container, Ctx};
use goblin::elf::{header, SectionHeader};
use std::collections::BTreeSet;
use std::path::Path;

/// Bytes of an ELF file read for its literals.
const MAX_SCAN: u64 = 64 << 20;
/// Where a compiled-in path names something the application may need.
const PLACES: &[&str] = &["/etc/", "/opt/", "/srv/", "/var/lib/", "/usr/share/"];

pub fn paths(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let Some(exe) = app.exe() else { return found };
    // An interpreter's compiled-in paths are its library search path (perl's whole
    // /usr/share/perl/5.36): its runtime's parser follows what the script really loads.
    if let Some(rt) = super::runtimes::interpreter_of(app.root) {
        found.findings.push(crate::findings::Finding::info(
            exe,
            format!(
                "the paths compiled into {rt} are its library search path: not taken whole, \
                 the {rt} runtime's closure takes what the code loads"
            ),
        ));
        return found;
    }
    let named = app.config_on_command_line();
    for object in own_objects(inp, app, exe) {
        for literal in literals_of(inp, &object) {
            // A compiled-in configuration is the default the command line overrides: with
            // `-c /srv/x.conf`, /etc/x/x.conf is not read.
            if let Some(given) = named.as_deref().filter(|_| literal.starts_with("/etc/")) {
                found.findings.push(crate::findings::Finding::info(
                    literal.as_str(),
                    format!("compiled into {object}, not taken: the command line names the configuration ({given})"),
                ));
                continue;
            }
            take(inp, app, &object, &literal, &mut found);
        }
    }
    found.findings.dedup();
    if found.findings.len() > 1 {
        let n = found.findings.len();
        found.findings.truncate(1);
        found.findings[0]
            .message
            .push_str(&format!(" (and {} more such paths)", n - 1));
    }
    found
}

/// The executable and the libraries it loads that came with it rather than from another
/// package: the vendor's own `lib/`, not the C library.
fn own_objects(inp: &Inputs, app: &AppFacts, exe: &str) -> Vec<String> {
    let env = LoaderEnv {
        ld_library_path: app.root.env("LD_LIBRARY_PATH").map(str::to_string),
        ld_preload: None,
    };
    let mut out = vec![exe.to_string()];
    let r = inp.resolver.resolve(Path::new(exe), &env);
    for lib in r.libraries {
        let path = lib.path.to_string_lossy().into_owned();
        let owner = inp.packages.owner(&path);
        if (owner.is_none() || owner == app.package) && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The path literals of one file: its `.rodata` sections read where the section table puts
/// them (a 100 MB executable is not read whole), or its first bytes when it has no table.
fn literals_of(inp: &Inputs, object: &str) -> BTreeSet<String> {
    let Ok(file) = inp.host.open(Path::new(object)) else {
        return BTreeSet::new();
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let src = SizedFile { file, size };
    let ranges = rodata_ranges(&src).unwrap_or_default();
    let mut out = BTreeSet::new();
    if ranges.is_empty() {
        if let Ok(bytes) = read_range(&src, 0, MAX_SCAN) {
            out.extend(path_literals(&bytes));
        }
        return out;
    }
    let mut budget = MAX_SCAN;
    for (offset, len) in ranges {
        let len = len.min(budget);
        budget -= len;
        if let Ok(bytes) = read_range(&src, offset, len) {
            out.extend(path_literals(&bytes));
        }
    }
    out
}

/// (offset, size) of every `.rodata*` section, from the section header table.
fn rodata_ranges(src: &SizedFile) -> Option<Vec<(u64, u64)>> {
    let (hdr, _) = object::parse_header(src).ok()?;
    let ctx = Ctx::new(
        if hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
            Container::Big
        } else {
            Container::Little
        },
        hdr.endianness().ok()?,
    );
    let count = usize::from(hdr.e_shnum);
    let table_len = u64::from(hdr.e_shentsize) * count as u64;
    if count == 0 || table_len > 1 << 20 {
        return None;
    }
    let table = read_range(src, hdr.e_shoff, table_len).ok()?;
    let sections = SectionHeader::parse_from(&table, 0, count, ctx).ok()?;
    let names = sections.get(usize::from(hdr.e_shstrndx))?;
    let strtab = read_range(src, names.sh_offset, names.sh_size.min(1 << 20)).ok()?;
    let name = |at: usize| strtab.get(at..).map(object::cstr).unwrap_or_default();
    Some(
        sections
            .iter()
            .filter(|sh| {
                let n = name(sh.sh_name);
                n == ".rodata" || n.starts_with(".rodata.")
            })
            .map(|sh| (sh.sh_offset, sh.sh_size))
            .collect(),
    )
}

/// NUL-terminated strings that look like absolute paths under one of [`PLACES`].
pub fn path_literals(bytes: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in bytes.split(|b| *b == 0) {
        let Ok(s) = std::str::from_utf8(s) else {
            continue;
        };
        if let Some(p) = as_path(s) {
            out.insert(p);
        }
    }
    out
}

/// A literal that names a path: absolute, under a place worth looking, no format directives,
/// no spaces or control characters.
fn as_path(s: &str) -> Option<String> {
    if s.len() < 6 || s.len() > 512 || !PLACES.iter().any(|p| s.starts_with(p)) {
        return None;
    }
    let ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+@".contains(c));
    if !ok || s.contains("//") || s.contains("/../") {
        return None;
    }
    let s = s.trim_end_matches('/');
    (s.matches('/').count() >= 2).then(|| s.to_string())
}

fn take(inp: &Inputs, app: &AppFacts, object: &str, literal: &str, found: &mut Found) {
    if paths::is_system_dir(literal) || app.in_volume(literal) {
        return;
    }
    let Ok(meta) = inp.host.stat(Path::new(literal)) else {
        return;
    };
    let owner = inp.packages.owner(literal);
    let others = owner.is_some() && owner != app.package;
    let why = format!("path compiled into {object}");
    if meta.is_file() {
        // Under /usr/share, only the program's own package's data: another package's files
        // there are its business (zoneinfo, locales, mime types).
        if literal.starts_with("/usr/share/") && others {
            return;
        }
        let role = if super::is_elf(inp, literal) {
            Role::Code
        } else {
            Role::Config
        };
        found.file(literal, role, why, Confidence::Guessed);
    } else if meta.is_dir() {
        if literal.starts_with("/var/lib/") {
            // A compiled-in state directory is used only if nothing else says where state is;
            // it must exist, its content is not copied on a guess.
            found.add(literal, Kind::Dir, Role::State, why, Confidence::Guessed);
            return;
        }
        if !app.takes_trees() {
            return;
        }
        match paths::tree(inp, literal, app.package.as_deref()) {
            Ok(files) => {
                for f in files {
                    let role = if super::is_elf(inp, &f) {
                        Role::Code
                    } else {
                        Role::Config
                    };
                    found.file(
                        f,
                        role,
                        format!("{why} (under {literal})"),
                        Confidence::Guessed,
                    );
                }
            }
            Err(TreeRefused::System) => {}
            Err(refused) => found.findings.push(crate::findings::Finding::info(
                literal,
                format!("{why}: {}", refused.describe(literal)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;

    /// A vendor daemon built by gcc with its configuration path compiled in, and a format
    /// string and a path elsewhere that are no paths to take.
    fn build(dir: &Path) -> Option<std::path::PathBuf> {
        let src = dir.join("v.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\n\
             static const char *conf = \"/etc/lkvend/vend.conf\";\n\
             static const char *share = \"/usr/share/lkvend\";\n\
             int main(int c, char **v) { printf(\"/etc/%s/x.conf\\n\", v[0]); \
             return conf[c] + share[c]; }\n",
        )
        .unwrap();
        let exe = dir.join("vendd");
        let ok = std::process::Command::new("gcc")
            .arg("-O2")
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(exe)
    }

    fn literals_of_file(host: &dyn crate::host::Host, exe: &Path) -> BTreeSet<String> {
        let file = host.open(exe).unwrap();
        let size = file.metadata().unwrap().len();
        let src = SizedFile { file, size };
        let ranges = rodata_ranges(&src).expect("gcc writes a section table");
        assert!(!ranges.is_empty());
        ranges
            .into_iter()
            .flat_map(|(o, l)| path_literals(&read_range(&src, o, l).unwrap()))
            .collect()
    }

    #[test]
    fn literals_of_a_compiled_daemon_name_its_config() {
        let work = tempfile::tempdir().unwrap();
        let Some(exe) = build(work.path()) else {
            panic!("gcc is needed for this test (.ci/setup installs it)");
        };
        let fx = Fixture::new();
        fx.write("/opt/lkvend/bin/vendd", std::fs::read(&exe).unwrap())
            .write("/etc/lkvend/vend.conf", "port 1\n")
            .write("/etc/lkvend/other.conf", "x\n")
            .write("/usr/share/lkvend/greeting.txt", "hello\n");
        let host = crate::host::at("/");
        let lits = literals_of_file(&host, &exe);
        assert!(lits.contains("/etc/lkvend/vend.conf"), "{lits:?}");
        assert!(!lits.iter().any(|l| l.contains('%')), "{lits:?}");
        let p = process("/opt/lkvend/bin/vendd", &["/opt/lkvend/bin/vendd"], "/");
        let found = fx.run(paths, p, &[]);
        let conf = find(&found, "/etc/lkvend/vend.conf");
        assert_eq!(
            (conf.kind, conf.role, conf.confidence),
            (Kind::File, Role::Config, Confidence::Guessed)
        );
        assert!(conf.why.contains("compiled into /opt/lkvend/bin/vendd"));
        assert!(!has(&found, "/etc/lkvend/other.conf"), "only what is named");
        assert!(
            has(&found, "/usr/share/lkvend/greeting.txt"),
            "its own share dir"
        );

        // Started with its configuration on the command line, the compiled-in one is not read.
        fx.write("/srv/vend.conf", "port 2\n");
        let mut files = crate::analyze::fileset::FileSet::default();
        files.add(
            "/srv/vend.conf",
            Role::Config,
            "named on the command line of pid 100 (-c)",
        );
        let p = process(
            "/opt/lkvend/bin/vendd",
            &["/opt/lkvend/bin/vendd", "-c", "/srv/vend.conf"],
            "/",
        );
        let found = fx.run_as(
            &crate::analyze::Analyzer::generic(),
            paths,
            p,
            &files,
            &[],
            &[],
        );
        assert!(
            !has(&found, "/etc/lkvend/vend.conf"),
            "{:#?}",
            found.evidence
        );
        assert!(has(&found, "/usr/share/lkvend/greeting.txt"));
        assert!(found.findings[0]
            .message
            .contains("the command line names the configuration (/srv/vend.conf)"));
    }

    #[test]
    fn other_packages_trees_and_system_dirs_are_left_alone() {
        let fx = Fixture::new();
        fx.write("/usr/share/zoneinfo/UTC", "tz")
            .write("/var/lib/dpkg/info/tzdata.list", "/usr/share/zoneinfo\n/usr/share/zoneinfo/UTC\n")
            .write(
                "/usr/bin/app",
                b"\x7fELF not really\0/usr/share/zoneinfo\0/usr/share/zoneinfo/UTC\0/etc\0/var/lib/app\0".as_slice(),
            )
            .mkdir("/var/lib/app/db");
        let p = process("/usr/bin/app", &["/usr/bin/app"], "/");
        let found = fx.run(paths, p, &[]);
        assert!(
            !has(&found, "/usr/share/zoneinfo/UTC"),
            "{:#?}",
            found.evidence
        );
        assert_eq!(
            find(&found, "/var/lib/app").kind,
            Kind::Dir,
            "state dirs exist, not copied"
        );
        assert_eq!(found.evidence.len(), 1, "{:#?}", found.evidence);
    }
}
