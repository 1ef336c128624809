//! What a JVM process needs, whatever runs on it: the Java runtime it was started from
//! (`java.home`), the link chain of the launcher its command line names, and its class path —
//! with the jars each jar's manifest `Class-Path` pulls in, which no command line shows.

use super::super::draft::Draft;
use super::super::evidence::plan_path;
use super::super::glob;
use super::super::Inputs;
use crate::elf::LoaderEnv;
use crate::findings::Finding;
use crate::host::{normalize, Host};
use crate::plan::Role;
use crate::snapshot::Process;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Parts of a Java home a running server never reads: the JDK's tools and sources, the module
/// files jlink reads, headers, manuals, licences. Paths relative to `java.home`.
const NOT_RUNTIME: &[&str] = &[
    "jmods",
    "include",
    "man",
    "legal",
    "docs",
    "demo",
    "sample",
    "lib/src.zip",
    "lib/ct.sym",
];

/// Native libraries of the desktop JRE (X11, ATK, splash screen): a headless server never loads
/// them, and their dependencies (libX11, GTK's accessibility bridge) are a desktop's.
const DESKTOP_LIBS: &[&str] = &[
    "libawt_xawt.so",
    "libjawt.so",
    "libsplashscreen.so",
    "libatk-wrapper.so",
];

/// Manifests are small; a jar whose manifest is larger than this is not one to trust.
const MAX_MANIFEST: u64 = 1 << 20;
/// `Class-Path` chains are short in practice; stop well before a cycle or a hostile chain costs.
const MAX_JARS: usize = 5_000;

/// The options and main class of a `java` command line.
#[derive(Debug, Default, PartialEq)]
pub struct JavaCommand {
    /// `-Dname=value` system properties, in order.
    pub properties: Vec<(String, String)>,
    /// Entries of `-classpath`/`-cp`/`--class-path`, as given.
    pub classpath: Vec<String>,
    /// The main class (or `-jar` file), when the command line names one.
    pub main: Option<String>,
}

impl JavaCommand {
    pub fn parse(cmdline: &[String]) -> JavaCommand {
        let mut cmd = JavaCommand::default();
        let mut args = cmdline.iter().skip(1);
        while let Some(arg) = args.next() {
            if let Some(prop) = arg.strip_prefix("-D") {
                let (k, v) = prop.split_once('=').unwrap_or((prop, ""));
                cmd.properties.push((k.to_string(), v.to_string()));
            } else if ["-cp", "-classpath", "--class-path"].contains(&arg.as_str()) {
                if let Some(cp) = args.next() {
                    cmd.classpath = cp.split(':').map(str::to_string).collect();
                }
            } else if let Some(cp) = arg.strip_prefix("--class-path=") {
                cmd.classpath = cp.split(':').map(str::to_string).collect();
            } else if arg == "-jar" {
                cmd.main = args.next().cloned();
                break;
            } else if takes_value(arg) {
                args.next();
            } else if !arg.starts_with('-') {
                cmd.main = Some(arg.clone());
                break;
            }
        }
        cmd
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Launcher options whose value is the next argument (`--add-opens java.base/…=ALL-UNNAMED`).
fn takes_value(arg: &str) -> bool {
    [
        "-p",
        "--module-path",
        "--upgrade-module-path",
        "--add-modules",
        "--add-opens",
        "--add-exports",
        "--add-reads",
        "--patch-module",
        "--limit-modules",
        "--enable-native-access",
    ]
    .contains(&arg)
}

/// `java.home` of a process whose executable is `<home>/bin/java`.
pub fn java_home(process: &Process) -> Option<String> {
    let exe = Path::new(process.exe.as_deref()?);
    (exe.file_name()? == "java" && exe.parent()?.file_name()? == "bin")
        .then(|| {
            exe.parent()?
                .parent()
                .map(|h| h.to_string_lossy().into_owned())
        })
        .flatten()
}

/// The Java runtime: `java.home` minus what only a developer or a desktop uses, its native
/// libraries scanned for their own dependencies, and the launcher link the command line names.
pub fn add_runtime(inputs: &Inputs, process: &Process, d: &mut Draft) {
    let host = inputs.host;
    let Some(home) = java_home(process) else {
        d.findings.push(Finding::warning(
            format!("pid {}", process.pid),
            "the executable is not <java.home>/bin/java: the Java runtime was not taken",
        ));
        return;
    };
    if !host.exists(&Path::new(&home).join("lib/modules")) {
        d.findings.push(Finding::warning(
            &home,
            "no lib/modules (the runtime image): not a Java 9+ runtime; taken as found",
        ));
    }
    let why = format!("Java runtime (java.home {home})");
    let mut natives = Vec::new();
    for f in glob::expand(host, &home) {
        let rel = f
            .strip_prefix(&home)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !is_runtime_part(&rel) {
            continue;
        }
        let path = f.to_string_lossy().into_owned();
        d.files.add(&path, Role::Code, why.clone());
        if rel.ends_with(".so") {
            natives.push(path);
        }
    }
    add_native_closure(inputs, &home, natives, d);
    if let Some(launcher) = process.cmdline.first().filter(|c| c.starts_with('/')) {
        if Some(launcher.as_str()) != process.exe.as_deref() {
            d.files.add(
                launcher,
                Role::Code,
                "the launcher the command line names (a link to the runtime's java)",
            );
        }
    }
}

/// The runtime's native libraries name `libjvm.so` without a RUNPATH: the launcher loaded it
/// from `lib/server` before any of them, and the loader matches the already-loaded soname. They
/// are resolved here with that directory (and `lib`) in the search, instead of by the generic
/// closure, which would report libjvm.so missing for each.
fn add_native_closure(inputs: &Inputs, home: &str, mut natives: Vec<String>, d: &mut Draft) {
    let lib = format!("{home}/lib/");
    natives.extend(
        d.elf_objects
            .iter()
            .filter(|o| o.starts_with(&lib))
            .cloned(),
    );
    d.elf_objects.retain(|o| !o.starts_with(&lib));
    natives.sort();
    natives.dedup();
    let env = LoaderEnv {
        ld_library_path: Some(format!("{home}/lib/server:{home}/lib")),
        ld_preload: None,
    };
    for obj in &natives {
        let r = inputs.resolver.resolve(Path::new(obj), &env);
        for l in &r.libraries {
            d.files.add(
                &plan_path(inputs, &l.path),
                Role::Code,
                format!("needed-by {}", l.needed_by.display()),
            );
        }
        for m in &r.missing {
            d.findings.push(Finding::warning(
                &m.name,
                format!(
                    "needed by {} (Java runtime) but not found by the loader's search",
                    m.needed_by.display()
                ),
            ));
        }
    }
}

fn is_runtime_part(rel: &str) -> bool {
    let in_dir = |dir: &str| rel == dir || rel.starts_with(&format!("{dir}/"));
    if NOT_RUNTIME.iter().any(|d| in_dir(d)) {
        return false;
    }
    if let Some(tool) = rel.strip_prefix("bin/") {
        return tool == "java";
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    !DESKTOP_LIBS.contains(&name)
}

/// Adds class path entries (`dir/*` = its jars, a directory = everything below it), each jar
/// with the jars its manifest names, relative paths taken against `cwd`. Entries that name
/// nothing are reported when `report_missing` (Tomcat's default loaders name optional places).
pub fn add_classpath(
    host: &dyn Host,
    entries: &[String],
    cwd: &str,
    why: &str,
    report_missing: bool,
    d: &mut Draft,
) {
    let mut jars: Vec<PathBuf> = Vec::new();
    for entry in entries.iter().filter(|e| !e.is_empty()) {
        let abs = normalize(&Path::new(cwd).join(entry));
        let text = abs.to_string_lossy().into_owned();
        let found = match text.strip_suffix("/*") {
            Some(dir) => glob::expand(host, &format!("{dir}/*.jar")),
            None => glob::expand(host, &text),
        };
        if found.is_empty() && report_missing {
            d.findings.push(Finding::info(
                &text,
                format!("{why}: names nothing on the host"),
            ));
        }
        for f in found {
            d.files
                .add(&f.to_string_lossy(), Role::Code, why.to_string());
            // The jar itself, not only the link to it: it is code, whatever else names it.
            if let Some(real) = host.real_path(&f).ok().filter(|r| *r != f) {
                d.files.add(
                    &real.to_string_lossy(),
                    Role::Code,
                    format!("{why} (through {})", f.display()),
                );
            }
            if f.extension().is_some_and(|e| e == "jar") {
                jars.push(f);
            }
        }
    }
    add_manifest_class_paths(host, jars, d);
}

/// Follows `Class-Path` manifest attributes into the draft (see [`manifest_closure`]).
fn add_manifest_class_paths(host: &dyn Host, pending: Vec<PathBuf>, d: &mut Draft) {
    for (path, jar) in manifest_closure(host, pending) {
        d.files.add(
            &path.to_string_lossy(),
            Role::Code,
            format!("Class-Path of {}", jar.display()),
        );
    }
}

/// Every existing path the `Class-Path` manifest attributes of `jars` name, transitively, each
/// with the jar that named it. Entries are relative to the directory the jar really sits in
/// (the JVM opens `lib/jasper.jar → /usr/share/java/…` and looks beside the target), so
/// Debian's jars in `/usr/share/java` pull in their own dependencies.
pub fn manifest_closure(host: &dyn Host, mut pending: Vec<PathBuf>) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(jar) = pending.pop() {
        let Ok(real) = host.real_path(&jar) else {
            continue;
        };
        if !seen.insert(real.clone()) || seen.len() > MAX_JARS {
            continue;
        }
        let Some(dir) = real.parent() else { continue };
        for entry in manifest_class_path(host, &real) {
            if entry.contains(':') && !entry.starts_with("file:") {
                continue; // a URL of another scheme (http:): nothing to copy
            }
            let entry = entry.trim_start_matches("file:");
            let path = normalize(&dir.join(entry));
            if !host.exists(&path) {
                continue; // the JVM skips missing entries silently, and so do we
            }
            if path.extension().is_some_and(|e| e == "jar") {
                pending.push(path.clone());
            }
            out.push((path, jar.clone()));
        }
    }
    out
}

/// The `Class-Path` entries of a jar's `META-INF/MANIFEST.MF` (empty when it has none or is not a
/// readable zip).
pub fn manifest_class_path(host: &dyn Host, jar: &Path) -> Vec<String> {
    let Ok(file) = host.open(jar) else {
        return Vec::new();
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return Vec::new();
    };
    let Ok(entry) = zip.by_name("META-INF/MANIFEST.MF") else {
        return Vec::new();
    };
    let mut text = String::new();
    if entry.take(MAX_MANIFEST).read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    class_path_attribute(&text)
}

/// Manifest lines are wrapped at 72 bytes: a line starting with a space continues the previous.
fn class_path_attribute(manifest: &str) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    for line in manifest.lines() {
        let line = line.trim_end_matches('\r');
        match (line.strip_prefix(' '), joined.last_mut()) {
            (Some(more), Some(last)) => last.push_str(more),
            _ => joined.push(line.to_string()),
        }
    }
    joined
        .iter()
        .find_map(|l| l.strip_prefix("Class-Path:"))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn a_catalina_command_line_gives_its_properties_class_path_and_main_class() {
        let c = JavaCommand::parse(&args(
            "/usr/bin/java -Xmx256m --add-opens java.base/java.lang=ALL-UNNAMED \
             -classpath /h/bin/bootstrap.jar:/h/bin/tomcat-juli.jar -Dcatalina.base=/b \
             -Dcatalina.home=/h -Dflag org.apache.catalina.startup.Bootstrap start",
        ));
        assert_eq!(c.property("catalina.base"), Some("/b"));
        assert_eq!(c.property("flag"), Some(""));
        assert_eq!(
            c.classpath,
            vec!["/h/bin/bootstrap.jar", "/h/bin/tomcat-juli.jar"]
        );
        assert_eq!(
            c.main.as_deref(),
            Some("org.apache.catalina.startup.Bootstrap")
        );
        let jar = JavaCommand::parse(&args("java -jar app.jar -Dnot.a.jvm.option=1"));
        assert_eq!(jar.main.as_deref(), Some("app.jar"));
        assert!(
            jar.properties.is_empty(),
            "options after the main are the app's"
        );
    }

    #[test]
    fn wrapped_manifest_lines_are_joined() {
        let m = "Manifest-Version: 1.0\r\nClass-Path: eclipse-jdt-core.jar tomcat10-el-api.jar tomcat10-servlet-ap\r\n i.jar ../x.jar\r\nBundle-Name: y\r\n";
        assert_eq!(
            class_path_attribute(m),
            vec![
                "eclipse-jdt-core.jar",
                "tomcat10-el-api.jar",
                "tomcat10-servlet-api.jar",
                "../x.jar"
            ]
        );
        assert!(class_path_attribute("Manifest-Version: 1.0\n").is_empty());
    }

    #[test]
    fn developer_and_desktop_parts_of_a_java_home_are_left_out() {
        for rel in [
            "lib/modules",
            "lib/server/libjvm.so",
            "bin/java",
            "conf/security/java.security",
            "lib/security/cacerts",
        ] {
            assert!(is_runtime_part(rel), "{rel}");
        }
        for rel in [
            "bin/javac",
            "jmods/java.base.jmod",
            "lib/src.zip",
            "lib/libawt_xawt.so",
            "man/man1/java.1.gz",
            "legal",
        ] {
            assert!(!is_runtime_part(rel), "{rel}");
        }
    }
}
