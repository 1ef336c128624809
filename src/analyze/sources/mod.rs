//! Evidence from everywhere: what the host shows about an application without an analyzer.
//!
//! Every source has the same small shape, a pure function of the host view and of what is known
//! about the application so far ([`AppFacts`]), returning [`Evidence`]: a path, what it is to the
//! image ([`Kind`]), its role, why, and how sure the source is ([`Confidence`]). The plan is the
//! union of all sources, deduplicated, every entry keeping all its reasons. Sources run in the
//! order of [`SOURCES`], each seeing what the earlier ones found (the configuration scanner reads
//! the configurations the command line and the package named).

pub(crate) mod cmdline;
mod conffiles;
mod config_scan;
pub(crate) mod entry;
mod jar_manifests;
mod literals;
pub(crate) mod paths;
mod runtimes;
mod state;

use super::draft::Draft;
use super::fileset::FileSet;
use super::spec::Analyzer;
use super::Inputs;
use crate::findings::Finding;
use crate::plan::{Confidence, Role, Volume, VolumeKind};
use crate::snapshot::Process;
use std::path::Path;

/// What a piece of evidence asks of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file to copy (a symlink: with its chain); an ELF object also gets its loader closure.
    File,
    /// A directory that must exist in the image (empty unless files are taken under it).
    Dir,
    /// State that must outlive the container: a volume populated from the host.
    Volume,
    /// Written at run time and not worth keeping (pid files, sockets): a tmpfs.
    Scratch,
    /// `path` is the name of an environment variable the program reads: the image keeps it.
    Env,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub path: String,
    pub kind: Kind,
    pub role: Role,
    pub why: String,
    pub confidence: Confidence,
}

/// What one source found, and what it could not settle (a tree too large to take, a name on
/// the command line that exists nowhere).
#[derive(Debug, Default)]
pub struct Found {
    pub evidence: Vec<Evidence>,
    pub findings: Vec<Finding>,
}

impl Found {
    pub fn add(
        &mut self,
        path: impl Into<String>,
        kind: Kind,
        role: Role,
        why: impl Into<String>,
        c: Confidence,
    ) {
        self.evidence.push(Evidence {
            path: path.into(),
            kind,
            role,
            why: why.into(),
            confidence: c,
        });
    }

    pub fn file(
        &mut self,
        path: impl Into<String>,
        role: Role,
        why: impl Into<String>,
        c: Confidence,
    ) {
        self.add(path, Kind::File, role, why, c);
    }

    /// The program file an interpreter (`runtime`: "perl", "a shell") runs for process `pid`.
    pub fn script(&mut self, path: &str, runtime: &str, pid: i32) {
        self.file(
            path,
            Role::Code,
            format!("the script {runtime} runs (pid {pid})"),
            Confidence::Declared,
        );
    }

    pub fn extend(&mut self, other: Found) {
        self.evidence.extend(other.evidence);
        self.findings.extend(other.findings);
    }
}

/// What is known about the application when a source runs.
pub struct AppFacts<'a> {
    /// The main process, and every process of the application (root first).
    pub root: &'a Process,
    pub processes: &'a [&'a Process],
    /// The analyzer that recognized it (`generic` when none did).
    pub analyzer: &'a Analyzer,
    /// Files the plan takes so far, with their roles.
    pub files: &'a FileSet,
    pub volumes: &'a [Volume],
    /// The command the image will run.
    pub entrypoint: &'a [String],
    /// The Debian package that owns the executable, if one does.
    pub package: Option<String>,
}

impl AppFacts<'_> {
    /// The executable's real path.
    pub fn exe(&self) -> Option<&str> {
        self.root.exe.as_deref()
    }

    pub fn cwd(&self) -> Option<&str> {
        self.root.cwd.as_deref().filter(|c| c.starts_with('/'))
    }

    /// Whether a directory something names is taken whole. Only without an analyzer: where one
    /// knows the application, which directories matter (document roots, modules) is its call,
    /// and a server root named on the command line is no content to copy.
    pub fn takes_trees(&self) -> bool {
        self.analyzer.id == "generic"
    }

    /// A configuration file the command line names, if it names one: then a compiled-in
    /// default or the package's own configuration is not what the program reads.
    pub fn config_on_command_line(&self) -> Option<String> {
        self.files
            .iter()
            .find(|(_, role, why, _)| {
                *role == Role::Config
                    && why
                        .iter()
                        .any(|w| w.starts_with("named on the command line"))
            })
            .map(|(p, _, _, _)| p.to_string())
    }

    /// Whether `path` lies in a volume the plan already has.
    pub fn in_volume(&self, path: &str) -> bool {
        self.volumes.iter().any(|v| paths::is_within(path, &v.path))
    }
}

pub type Source = fn(&Inputs, &AppFacts) -> Found;

/// When a source runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    Always,
    /// Only without an analyzer: where one knows the application, it says which configuration
    /// it reads; a compiled-in default or a package's other files would be a worse guess.
    Generic,
}

/// Every source, in the order they run: the configuration scanner last, since it reads the
/// configurations the others found.
pub const SOURCES: &[(&str, Source, Runs)] = &[
    ("cmdline_paths", cmdline::paths, Runs::Always),
    ("state_writers", state::writers, Runs::Always),
    ("package_conffiles", conffiles::of_package, Runs::Generic),
    ("binary_literals", literals::paths, Runs::Generic),
    ("runtime_closure", runtimes::closure, Runs::Always),
    ("jar_manifests", jar_manifests::class_paths, Runs::Always),
    ("entrypoint_chain", entry::chain, Runs::Always),
    ("config_tokens", config_scan::tokens, Runs::Always),
];

/// Runs every source over the application and adds what each found to the draft.
pub fn gather(inp: &Inputs, procs: &[&Process], analyzer: &Analyzer, d: &mut Draft) {
    let package = procs[0].exe.as_deref().and_then(|e| inp.packages.owner(e));
    let generic = analyzer.id == "generic";
    for (_, source, runs) in SOURCES {
        if *runs == Runs::Generic && !generic {
            continue;
        }
        let entrypoint = d.entrypoint.clone().unwrap_or_default();
        let facts = AppFacts {
            root: procs[0],
            processes: procs,
            analyzer,
            files: &d.files,
            volumes: &d.volumes,
            entrypoint: &entrypoint,
            package: package.clone(),
        };
        let found = source(inp, &facts);
        apply(inp, found, d);
    }
}

/// Adds evidence to the draft: files by role (ELF objects to the loader's closure), directories,
/// volumes (unless one already covers the place), variables to keep.
pub fn apply(inp: &Inputs, found: Found, d: &mut Draft) {
    d.findings.extend(found.findings);
    for mut e in found.evidence {
        if e.kind != Kind::Env {
            e.path = clean(inp, &e.path);
        }
        match e.kind {
            Kind::File => {
                let new = !d.files.contains(&e.path);
                d.files.add_as(&e.path, e.role, e.why, e.confidence);
                if new && e.role == Role::Code && is_elf(inp, &e.path) {
                    d.elf_objects.push(e.path);
                }
            }
            Kind::Dir => d.add_dir(e.path, e.why),
            Kind::Volume | Kind::Scratch => {
                let overlaps = d.volumes.iter().any(|v| {
                    paths::is_within(&e.path, &v.path) || paths::is_within(&v.path, &e.path)
                });
                if overlaps {
                    continue;
                }
                let kind = if e.kind == Kind::Volume {
                    VolumeKind::Volume
                } else {
                    VolumeKind::Tmpfs
                };
                d.add_volume(Volume {
                    path: e.path,
                    kind,
                    populate: kind == VolumeKind::Volume,
                    populate_with: None,
                    why: e.why,
                    live_writes: None,
                    scratch: false,
                });
            }
            Kind::Env => {
                d.env_read.entry(e.path).or_insert(e.why);
            }
        }
    }
}

/// A path as the plan holds it: no `.`, `..` or doubled slashes. A source joins what a program
/// names to where it names it (`__DIR__ . '/../lib/x.php'`); `..` is taken as the kernel takes
/// it, after the directory before it (a link) is resolved on the host; the last component is
/// kept as named, so a link stays a link.
fn clean(inp: &Inputs, path: &str) -> String {
    if !path.contains("/.") && !path.contains("//") {
        return path.to_string();
    }
    let lexical = crate::host::normalize(Path::new(path));
    let p = Path::new(path);
    let resolved = p.parent().zip(p.file_name()).and_then(|(dir, name)| {
        let dir = inp.host.real_path(dir).ok()?;
        (name != "..").then(|| dir.join(name))
    });
    resolved
        .map(|r| crate::host::normalize(&r))
        .unwrap_or(lexical)
        .to_string_lossy()
        .into_owned()
}

pub fn is_elf(inp: &Inputs, path: &str) -> bool {
    inp.host
        .read_limited(Path::new(path), 4)
        .is_ok_and(|b| b == b"\x7fELF")
}

#[cfg(test)]
pub mod testing {
    //! A fixture host for the sources' unit tests: a directory standing in for `/`, a snapshot
    //! with one process, and the inputs analysis reads.

    use super::*;
    use crate::analyze::PackageIndex;
    use crate::elf::{ResolveOptions, Resolver};
    use crate::snapshot::Snapshot;

    pub struct Fixture {
        pub dir: tempfile::TempDir,
        pub snapshot: Snapshot,
    }

    impl Fixture {
        pub fn new() -> Self {
            let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
                "schema": crate::snapshot::SCHEMA_VERSION,
                "liftkit_version": "test",
                "collected_at": "2026-01-01T00:00:00Z",
                "host": { "hostname": "fixture", "kernel": "6.1.0", "arch": "x86_64" },
            }))
            .unwrap();
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                snapshot,
            }
        }

        /// Writes a file under the root (parents created).
        pub fn write(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
            let p = self.dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
            self
        }

        pub fn mkdir(&self, path: &str) -> &Self {
            std::fs::create_dir_all(self.dir.path().join(path.trim_start_matches('/'))).unwrap();
            self
        }

        pub fn symlink(&self, target: &str, path: &str) -> &Self {
            let p = self.dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
            self
        }

        /// Runs `source` for a process as given, with the files `taken` already in the plan.
        pub fn run(&self, source: Source, p: Process, taken: &[(&str, Role)]) -> Found {
            self.run_with(source, p, taken, &[], &[])
        }

        pub fn run_with(
            &self,
            source: Source,
            p: Process,
            taken: &[(&str, Role)],
            volumes: &[Volume],
            entrypoint: &[String],
        ) -> Found {
            let mut files = FileSet::default();
            for (path, role) in taken {
                files.add(path, *role, "taken by the test");
            }
            self.run_as(&Analyzer::generic(), source, p, &files, volumes, entrypoint)
        }

        /// Calls `f` with the inputs analysis reads, for a snapshot holding `p`.
        pub fn with_inputs<R>(&self, p: &Process, f: impl FnOnce(&Inputs) -> R) -> R {
            let host = crate::host::at(self.dir.path());
            let resolver = Resolver::new(&host, ResolveOptions::default());
            let packages = PackageIndex::load(&host);
            let mut snapshot = self.snapshot.clone();
            snapshot.processes = vec![p.clone()];
            let analyzers: Vec<Analyzer> = Vec::new();
            let excludes = crate::analyze::exclude::Excludes::default();
            f(&Inputs {
                snapshot: &snapshot,
                host: &host,
                analyzers: &analyzers,
                resolver: &resolver,
                packages: &packages,
                excludes: &excludes,
            })
        }

        /// As recognized by `analyzer`, with `files` already in the plan.
        pub fn run_as(
            &self,
            analyzer: &Analyzer,
            source: Source,
            p: Process,
            files: &FileSet,
            volumes: &[Volume],
            entrypoint: &[String],
        ) -> Found {
            let host = crate::host::at(self.dir.path());
            let resolver = Resolver::new(&host, ResolveOptions::default());
            let packages = PackageIndex::load(&host);
            let mut snapshot = self.snapshot.clone();
            snapshot.processes = vec![p.clone()];
            let analyzers: Vec<Analyzer> = Vec::new();
            let excludes = crate::analyze::exclude::Excludes::default();
            let inp = Inputs {
                snapshot: &snapshot,
                host: &host,
                analyzers: &analyzers,
                resolver: &resolver,
                packages: &packages,
                excludes: &excludes,
            };
            let procs = [&p];
            let facts = AppFacts {
                root: &p,
                processes: &procs,
                analyzer,
                files,
                volumes,
                entrypoint,
                package: p.exe.as_deref().and_then(|e| packages.owner(e)),
            };
            source(&inp, &facts)
        }
    }

    pub fn process(exe: &str, cmdline: &[&str], cwd: &str) -> Process {
        Process {
            pid: 100,
            ppid: 1,
            comm: exe.rsplit('/').next().unwrap_or(exe).into(),
            exe: Some(exe.into()),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            cwd: Some(cwd.into()),
            environ: vec!["PATH=/usr/bin:/bin".into()],
            ..Process::default()
        }
    }

    /// The evidence for `path`, or a panic listing what was found.
    pub fn find<'a>(found: &'a Found, path: &str) -> &'a Evidence {
        found
            .evidence
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} not found in {:#?}", found.evidence))
    }

    pub fn has(found: &Found, path: &str) -> bool {
        found.evidence.iter().any(|e| e.path == path)
    }
}
