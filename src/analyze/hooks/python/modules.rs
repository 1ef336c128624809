//! Where Python finds a module on `sys.path` (as its path finder does: a package directory with
//! `__init__.py`, then extension modules, then source, then namespace portions), and the closure
//! of everything a program's modules import.

use super::imports::{self, Import};
use crate::host::Host;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Source files larger than this are not scanned for imports (generated tables, not code).
const MAX_SOURCE: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The application's own code (script directory, `--chdir`, PYTHONPATH).
    App,
    /// The interpreter's standard library.
    Stdlib,
    /// Third-party distributions (`dist-packages`, `site-packages`).
    Site,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub struct Located {
    /// `None` for a namespace package (directories only).
    pub file: Option<String>,
    /// The directories a package's submodules are searched in; empty for a plain module.
    pub package_dirs: Vec<String>,
    /// Index of the `sys.path` entry the top-level module was found in.
    pub entry: usize,
}

impl Located {
    pub fn is_package(&self) -> bool {
        !self.package_dirs.is_empty()
    }
}

pub struct Finder<'a> {
    host: &'a dyn Host,
    pub path: Vec<Entry>,
    /// `.cpython-311-x86_64-linux-gnu.so`, `.abi3.so`, `.so`: the interpreter's order.
    ext_suffixes: Vec<String>,
    listings: HashMap<String, BTreeSet<String>>,
    located: HashMap<String, Option<Located>>,
}

impl<'a> Finder<'a> {
    pub fn new(host: &'a dyn Host, path: Vec<Entry>, ext_suffixes: Vec<String>) -> Self {
        Finder {
            host,
            path,
            ext_suffixes,
            listings: HashMap::new(),
            located: HashMap::new(),
        }
    }

    pub fn kind(&self, l: &Located) -> Kind {
        self.path[l.entry].kind
    }

    fn listing(&mut self, dir: &str) -> &BTreeSet<String> {
        let host = self.host;
        self.listings.entry(dir.to_string()).or_insert_with(|| {
            host.read_dir(Path::new(dir))
                .map(|names| {
                    names
                        .into_iter()
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    fn is_dir(&self, path: &str) -> bool {
        self.host.stat(Path::new(path)).is_ok_and(|m| m.is_dir())
    }

    pub fn locate(&mut self, name: &str) -> Option<Located> {
        if let Some(found) = self.located.get(name) {
            return found.clone();
        }
        let found = self.search(name);
        self.located.insert(name.to_string(), found.clone());
        found
    }

    fn search(&mut self, name: &str) -> Option<Located> {
        let (dirs, last): (Vec<(String, usize)>, &str) = match name.rsplit_once('.') {
            Some((parent, last)) => {
                let p = self.locate(parent)?;
                (
                    p.package_dirs
                        .iter()
                        .map(|d| (d.clone(), p.entry))
                        .collect(),
                    last,
                )
            }
            None => (
                self.path
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.dir.clone(), i))
                    .collect(),
                name,
            ),
        };
        let mut portions = Vec::new();
        let mut first_portion = None;
        for (dir, entry) in dirs {
            let names = self.listing(&dir).clone();
            let mut portion = None;
            if names.contains(last) {
                let sub = format!("{dir}/{last}");
                if self.is_dir(&sub) {
                    if self.listing(&sub).contains("__init__.py") {
                        return Some(Located {
                            file: Some(format!("{sub}/__init__.py")),
                            package_dirs: vec![sub],
                            entry,
                        });
                    }
                    portion = Some(sub);
                }
            }
            let suffixes = self
                .ext_suffixes
                .iter()
                .map(String::as_str)
                .chain([".py", ".pyc"]);
            for suffix in suffixes {
                let file = format!("{last}{suffix}");
                if names.contains(&file) {
                    return Some(Located {
                        file: Some(format!("{dir}/{file}")),
                        package_dirs: Vec::new(),
                        entry,
                    });
                }
            }
            if let Some(p) = portion {
                first_portion.get_or_insert(entry);
                portions.push(p);
            }
        }
        first_portion.map(|entry| Located {
            file: None,
            package_dirs: portions,
            entry,
        })
    }
}

/// A module reached by the closure, and the first reason it was.
#[derive(Debug, Clone)]
pub struct Reached {
    pub located: Located,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct Closure {
    pub modules: BTreeMap<String, Reached>,
    /// Imports nothing on `sys.path` provides: built into the interpreter, another platform's, or
    /// optional and not installed.
    pub unresolved: BTreeSet<String>,
    /// Top-level packages of distributions and of the app, copied whole.
    pub whole: BTreeSet<String>,
    /// Installed packages only conditional imports name (inside a function, `try` or `if`), that
    /// nothing imports unconditionally: left out, with the first import that named them.
    pub not_taken: BTreeMap<String, String>,
    /// Every name looked up, found or not.
    seen: BTreeSet<String>,
    deferred: Vec<Want>,
}

/// Standard-library packages for development, not for serving: taken only when imported
/// unconditionally.
const DEVELOPMENT_ONLY: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "turtle",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "distutils",
    "unittest",
    "venv",
    "pydoc",
    "doctest",
    "pdb",
];

/// Where the closure starts: a module, why, and whether only some code path imports it.
#[derive(Debug, Clone)]
pub struct Seed {
    pub module: String,
    pub why: String,
    pub conditional: bool,
    /// `from m import x`: `m.x` is a module only if it exists.
    pub optional: bool,
}

impl Seed {
    pub fn new(module: impl Into<String>, why: impl Into<String>) -> Seed {
        Seed {
            module: module.into(),
            why: why.into(),
            conditional: false,
            optional: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Want {
    name: String,
    why: String,
    /// `from m import x`: `m.x` is a submodule only if it exists.
    optional: bool,
    /// Imported off the top level: runs only on some code path.
    conditional: bool,
}

/// Every module the seeds reach through their imports. A distribution's package is copied whole
/// (packages load their own modules by name at run time), so the standard-library imports of all
/// its modules are followed too. Another distribution, or a development-only part of the
/// standard library, is taken when a reached module imports it unconditionally (at its top
/// level), or once something else has taken it.
pub fn closure(finder: &mut Finder, seeds: Vec<Seed>) -> Closure {
    let mut c = Closure::default();
    let mut queue: Vec<Want> = seeds
        .into_iter()
        .map(|s| Want {
            name: s.module,
            why: s.why,
            optional: s.optional,
            conditional: s.conditional,
        })
        .collect();
    queue.reverse();
    loop {
        while let Some(w) = queue.pop() {
            visit(finder, &mut c, w, &mut queue);
        }
        let deferred = std::mem::take(&mut c.deferred);
        let (ready, waiting): (Vec<Want>, Vec<Want>) = deferred
            .into_iter()
            .partition(|w| !must_wait(finder, &c, w));
        c.deferred = waiting;
        queue.extend(ready.into_iter().map(|w| Want {
            conditional: false,
            ..w
        }));
        let tops: Vec<String> = c
            .modules
            .iter()
            .filter(|(n, r)| !n.contains('.') && finder.kind(&r.located) != Kind::Stdlib)
            .map(|(n, _)| n.clone())
            .filter(|n| !c.whole.contains(n))
            .collect();
        for top in tops {
            let loc = c.modules[&top].located.clone();
            c.whole.insert(top.clone());
            for (module, file) in package_sources(finder.host, &top, &loc) {
                for want in imports_of(finder.host, &module, &file, file.ends_with("__init__.py")) {
                    let stdlib = finder
                        .locate(top_of(&want.name))
                        .is_some_and(|l| finder.kind(&l) == Kind::Stdlib);
                    if stdlib && !c.modules.contains_key(&want.name) {
                        queue.push(Want {
                            why: format!("imported by {module} (its package is copied whole)"),
                            optional: true,
                            conditional: true,
                            ..want
                        });
                    }
                }
            }
        }
        if queue.is_empty() {
            break;
        }
    }
    for w in std::mem::take(&mut c.deferred) {
        let top = top_of(&w.name);
        if !c.modules.contains_key(top) {
            c.not_taken.entry(top.to_string()).or_insert(w.why);
        }
    }
    c
}

fn top_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// A conditional import waits when it names a distribution's module not taken yet (the package
/// may be copied whole, but what that module alone imports is not followed), or a development-only
/// part of the standard library.
fn must_wait(finder: &mut Finder, c: &Closure, w: &Want) -> bool {
    let top = top_of(&w.name);
    if !w.conditional || c.modules.contains_key(&w.name) {
        return false;
    }
    match finder.locate(top).map(|l| finder.kind(&l)) {
        Some(Kind::Site) => true,
        Some(Kind::Stdlib) => DEVELOPMENT_ONLY.contains(&top) && !c.modules.contains_key(top),
        _ => false,
    }
}

fn visit(finder: &mut Finder, c: &mut Closure, w: Want, queue: &mut Vec<Want>) {
    if must_wait(finder, c, &w) {
        c.deferred.push(w);
        return;
    }
    if c.seen.contains(&w.name) {
        if !w.optional && !c.modules.contains_key(&w.name) {
            c.unresolved.insert(w.name);
        }
        return;
    }
    // Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first.
    if let Some((parent, _)) = w.name.rsplit_once('.') {
        if !c.seen.contains(parent) {
            let parent = Want {
                name: parent.to_string(),
                ..w.clone()
            };
            queue.push(w);
            queue.push(parent);
            return;
        }
    }
    c.seen.insert(w.name.clone());
    let Some(located) = finder.locate(&w.name) else {
        if !w.optional {
            c.unresolved.insert(w.name);
        }
        return;
    };
    if let Some(file) = &located.file {
        for want in imports_of(finder.host, &w.name, file, located.is_package()) {
            if !c.modules.contains_key(&want.name) {
                queue.push(want);
            }
        }
    }
    c.modules.insert(
        w.name,
        Reached {
            located,
            why: w.why,
        },
    );
}

/// The modules `file` (module `module`) imports, as absolute names.
fn imports_of(host: &dyn Host, module: &str, file: &str, is_package: bool) -> Vec<Want> {
    if !file.ends_with(".py") {
        return Vec::new();
    }
    let Ok(bytes) = host.read_limited(Path::new(file), MAX_SOURCE) else {
        return Vec::new();
    };
    let source = String::from_utf8_lossy(&bytes);
    let package = if is_package {
        module
    } else {
        module.rsplit_once('.').map_or("", |(p, _)| p)
    };
    let mut out = Vec::new();
    for import in imports::scan(&source) {
        let Some(base) = imports::absolute(&import, package) else {
            continue;
        };
        let why = format!("imported by {module}");
        for name in &import.names {
            if name != "*" {
                out.push(Want {
                    name: join(&base, name),
                    why: why.clone(),
                    optional: true,
                    conditional: import.conditional,
                });
            }
        }
        if !base.is_empty() {
            out.push(Want {
                optional: relative(&import),
                conditional: import.conditional,
                name: base,
                why,
            });
        }
    }
    out
}

fn relative(i: &Import) -> bool {
    i.level > 0
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

/// Every source file of a top-level package with its module name (`pkg/sub/x.py` → `pkg.sub.x`).
fn package_sources(host: &dyn Host, top: &str, loc: &Located) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in &loc.package_dirs {
        for f in crate::analyze::glob::expand(host, &format!("{dir}/**/*.py")) {
            let path = f.to_string_lossy().into_owned();
            let Some(rel) = path.strip_prefix(&format!("{dir}/")) else {
                continue;
            };
            let rel = rel.trim_end_matches(".py");
            let rel = rel
                .trim_end_matches("/__init__")
                .trim_end_matches("__init__");
            let module = if rel.is_empty() {
                top.to_string()
            } else {
                format!("{top}.{}", rel.replace('/', "."))
            };
            out.push((module, path));
        }
    }
    out
}
