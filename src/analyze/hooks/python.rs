//! Python applications: the interpreter, its `sys.path` as the process had it (PYTHONPATH, a
//! virtualenv's `pyvenv.cfg`, the distribution's directories), and only the modules the program
//! reaches: the extension modules it has mapped, plus the static closure of its imports from the
//! script, the app module gunicorn names and the modules every interpreter loads at start-up.
//! Third-party packages are copied whole, with the metadata `importlib.metadata` reads.

mod gunicorn;
mod imports;
mod modules;

use super::HookContext;
use crate::analyze::draft::Draft;
use crate::findings::Finding;
use crate::plan::Role;
use modules::{Closure, Entry, Finder, Kind, Located, Seed};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the interpreter imports before the program's first line (site, codecs, the import
/// machinery), and what `-m` and tracebacks use.
const STARTUP: &[&str] = &[
    "site",
    "sitecustomize",
    "codecs",
    "io",
    "abc",
    "os",
    "stat",
    "posixpath",
    "genericpath",
    "_collections_abc",
    "_sitebuiltins",
    "warnings",
    "importlib",
    "importlib.util",
    "importlib.machinery",
    "importlib.metadata",
    "zipimport",
    "runpy",
    "linecache",
    "traceback",
];

/// Modules compiled into CPython 3.11: never files, never worth a finding.
const BUILTIN: &[&str] = &[
    "_abc",
    "_ast",
    "_codecs",
    "_collections",
    "_functools",
    "_imp",
    "_io",
    "_locale",
    "_operator",
    "_signal",
    "_sre",
    "_stat",
    "_string",
    "_symtable",
    "_thread",
    "_tokenize",
    "_tracemalloc",
    "_warnings",
    "_weakref",
    "atexit",
    "builtins",
    "errno",
    "faulthandler",
    "gc",
    "itertools",
    "marshal",
    "posix",
    "pwd",
    "sys",
    "time",
    "xxsubtype",
    "_frozen_importlib",
    "_frozen_importlib_external",
];

/// The interpreter as the process ran it.
struct Interpreter {
    /// `3.11`
    version: String,
    /// Where the standard library lives (`/usr/lib/python3.11`).
    stdlib: String,
    /// The virtualenv the interpreter ran from, when `pyvenv.cfg` says so.
    venv: Option<Venv>,
}

struct Venv {
    dir: String,
    system_site: bool,
}

/// `python [options] (script | -m module | -c code) args…`
#[derive(Debug, Default)]
struct Invocation {
    script: Option<String>,
    module: Option<String>,
    args: Vec<String>,
}

pub fn hook(cx: &HookContext, d: &mut Draft) {
    let p = cx.process;
    let host = cx.inputs.host;
    let Some(interp) = interpreter(cx) else {
        d.findings.push(Finding::warning(
            format!("pid {}", p.pid),
            "python: the interpreter's version could not be told from its executable; \
             only the runtime evidence was taken",
        ));
        return;
    };
    let inv = invocation(&p.cmdline[1.min(p.cmdline.len())..]);
    let cwd = p.cwd.clone().unwrap_or_else(|| "/".to_string());
    let gunicorn = gunicorn::read(host, &inv, &cwd);
    let path = sys_path(cx, &interp, &inv, &cwd, gunicorn.as_ref());
    let arch = match cx.inputs.snapshot.host.arch.as_str() {
        "" => "x86_64".to_string(),
        a => a.to_string(),
    };
    let tag = interp.version.replace('.', "");
    let suffixes = vec![
        format!(".cpython-{tag}-{arch}-linux-gnu.so"),
        ".abi3.so".to_string(),
        ".so".to_string(),
    ];
    let mut finder = Finder::new(host, path, suffixes);
    let mut seeds = seeds(cx, &inv, gunicorn.as_ref(), &mut finder);
    seeds.extend(codecs(cx, &interp));
    let closure = modules::closure(&mut finder, seeds);
    add_modules(cx, &finder, &closure, &tag, d);
    add_interpreter_files(cx, &interp, d);
    if let Some(script) = &inv.script {
        let script = crate::analyze::rules::absolutize(script, &cwd);
        d.files
            .add(&script, Role::Code, "the script the interpreter runs");
    }
    add_path_files(cx, &finder, d);
    if let Some(g) = &gunicorn {
        d.entrypoint = Some(g.foreground_command(&p.cmdline));
        d.findings.extend(g.notes(p.pid));
        for (dir, why) in &g.writes {
            d.add_dir(dir.clone(), *why);
        }
        d.add_dir(
            "/tmp",
            "gunicorn workers keep their heartbeat files in the temp dir",
        );
    }
    summarize(cx, &finder, &closure, &interp, d);
}

fn interpreter(cx: &HookContext) -> Option<Interpreter> {
    let exe = cx.process.exe.as_deref()?;
    let name = exe.rsplit('/').next()?;
    let version = name.strip_prefix("python")?;
    if !version.contains('.') || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let prefix = Path::new(exe)
        .parent()?
        .parent()?
        .to_string_lossy()
        .into_owned();
    let prefix = if prefix == "/" { String::new() } else { prefix };
    let venv = venv_of(cx);
    Some(Interpreter {
        stdlib: format!("{prefix}/lib/python{version}"),
        version: version.to_string(),
        venv,
    })
}

/// Python looks for `pyvenv.cfg` beside the executable it was started as (argv[0], found on
/// PATH when bare) and one directory up; the kernel's `/proc/PID/exe` is the resolved
/// interpreter, so it cannot tell.
fn venv_of(cx: &HookContext) -> Option<Venv> {
    let argv0 = argv0_path(cx)?;
    let bin = Path::new(&argv0).parent()?;
    for dir in [bin, bin.parent()?] {
        let cfg = dir.join("pyvenv.cfg");
        if let Ok(text) = cx.inputs.host.read_to_string(&cfg) {
            let system_site = text.lines().any(|l| {
                l.split_once('=').is_some_and(|(k, v)| {
                    k.trim() == "include-system-site-packages" && v.trim() == "true"
                })
            });
            return Some(Venv {
                dir: dir.to_string_lossy().into_owned(),
                system_site,
            });
        }
    }
    None
}

/// The interpreter path as started: absolute, relative to the cwd, or searched on PATH.
fn argv0_path(cx: &HookContext) -> Option<String> {
    let p = cx.process;
    let argv0 = p.cmdline.first()?;
    if argv0.starts_with('/') {
        return Some(argv0.clone());
    }
    if argv0.contains('/') {
        return Some(crate::analyze::rules::absolutize(argv0, p.cwd.as_deref()?));
    }
    p.env("PATH")?
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| format!("{d}/{argv0}"))
        .find(|c| cx.inputs.host.exists(Path::new(c)))
}

fn invocation(args: &[String]) -> Invocation {
    let mut inv = Invocation::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-m" | "-c" => {
                if a == "-m" {
                    inv.module = args.get(i + 1).cloned();
                }
                inv.args = args
                    .get(i + 2..)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default();
                return inv;
            }
            "-X" | "-W" | "--check-hash-based-pycs" => i += 2,
            "--" => {
                inv.script = args.get(i + 1).cloned();
                inv.args = args
                    .get(i + 2..)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default();
                return inv;
            }
            _ if a.starts_with('-') => i += 1,
            _ => {
                inv.script = Some(a.to_string());
                inv.args = args[i + 1..].to_vec();
                return inv;
            }
        }
    }
    inv
}

/// `sys.path` as the process had it: the script's directory (or the cwd for `-m`), gunicorn's
/// `--chdir`, PYTHONPATH, the standard library, then site directories (the venv's first).
fn sys_path(
    cx: &HookContext,
    interp: &Interpreter,
    inv: &Invocation,
    cwd: &str,
    gunicorn: Option<&gunicorn::Gunicorn>,
) -> Vec<Entry> {
    let host = cx.inputs.host;
    let mut path: Vec<Entry> = Vec::new();
    let mut push = |dir: String, kind: Kind| {
        if !path.iter().any(|e| e.dir == dir)
            && host.stat(Path::new(&dir)).is_ok_and(|m| m.is_dir())
        {
            path.push(Entry { dir, kind });
        }
    };
    if let Some(g) = gunicorn {
        push(g.app_dir.clone(), Kind::App);
    }
    if let Some(script) = &inv.script {
        let script = crate::analyze::rules::absolutize(script, cwd);
        let real = host
            .real_path(Path::new(&script))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(script);
        if let Some(dir) = Path::new(&real).parent() {
            push(dir.to_string_lossy().into_owned(), Kind::App);
        }
    } else {
        push(cwd.to_string(), Kind::App);
    }
    for dir in cx.process.env("PYTHONPATH").unwrap_or_default().split(':') {
        if !dir.is_empty() {
            push(crate::analyze::rules::absolutize(dir, cwd), Kind::App);
        }
    }
    let v = &interp.version;
    let stdlib = &interp.stdlib;
    push(stdlib.clone(), Kind::Stdlib);
    push(format!("{stdlib}/lib-dynload"), Kind::Stdlib);
    let lib = stdlib.trim_end_matches(&format!("/python{v}"));
    let system_site = [
        format!("/usr/local/lib/python{v}/dist-packages"),
        format!("{lib}/python3/dist-packages"),
        format!("{lib}/python{v}/dist-packages"),
    ];
    match &interp.venv {
        Some(venv) => {
            push(
                format!("{}/lib/python{v}/site-packages", venv.dir),
                Kind::Site,
            );
            if venv.system_site {
                for dir in system_site {
                    push(dir, Kind::Site);
                }
            }
        }
        None => {
            if let Some(home) = cx.process.env("HOME") {
                push(
                    format!("{home}/.local/lib/python{v}/site-packages"),
                    Kind::Site,
                );
            }
            for dir in system_site {
                push(dir, Kind::Site);
            }
        }
    }
    path
}

/// Where the closure starts: the start-up modules, the script or `-m` module, gunicorn's app and
/// config, and every extension module the processes have mapped.
fn seeds(
    cx: &HookContext,
    inv: &Invocation,
    gunicorn: Option<&gunicorn::Gunicorn>,
    finder: &mut Finder,
) -> Vec<Seed> {
    let mut seeds: Vec<Seed> = STARTUP
        .iter()
        .map(|m| Seed::new(*m, "loaded by the interpreter at start-up"))
        .collect();
    if let Some(m) = &inv.module {
        seeds.push(Seed::new(m, "run with python -m"));
        seeds.push(Seed::new(format!("{m}.__main__"), "run with python -m"));
    }
    if let Some(script) = &inv.script {
        let cwd = cx.process.cwd.as_deref().unwrap_or("/");
        let script = crate::analyze::rules::absolutize(script, cwd);
        seeds.extend(script_imports(cx, &script, "the script"));
        if let Some(m) = entry_point_module(cx, finder, &script) {
            seeds.push(Seed::new(
                m,
                format!("entry point the script {script} loads"),
            ));
        }
    }
    if let Some(g) = gunicorn {
        seeds.push(Seed::new("gunicorn", "the WSGI server"));
        for m in g.loaded_by_name() {
            seeds.push(Seed::new(
                m,
                "loaded by gunicorn by name (worker class, logger)",
            ));
        }
        if let Some(m) = &g.app_module {
            seeds.push(Seed::new(
                m,
                format!("the WSGI application gunicorn serves ({m})"),
            ));
        }
        if let Some(conf) = &g.config {
            seeds.extend(script_imports(cx, conf, "gunicorn's config"));
        }
    }
    for p in cx.processes {
        for m in &p.maps {
            if let Some(module) = module_of_file(finder, m) {
                seeds.push(Seed::new(
                    module,
                    format!("extension module mapped by pid {}", p.pid),
                ));
            }
        }
    }
    seeds
}

/// Codecs are imported by name (`"x".encode("idna")` imports `encodings.idna`, which imports
/// `stringprep`): every module of the encodings package starts the closure.
fn codecs(cx: &HookContext, interp: &Interpreter) -> Vec<Seed> {
    let dir = format!("{}/encodings", interp.stdlib);
    cx.inputs
        .host
        .read_dir(Path::new(&dir))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            let n = n.to_string_lossy().into_owned();
            let m = n.strip_suffix(".py").filter(|m| *m != "__init__")?;
            Some(Seed::new(
                format!("encodings.{m}"),
                "a codec, imported by name when a text is encoded or decoded",
            ))
        })
        .collect()
}

/// A setuptools console script (`# EASY-INSTALL-ENTRY-SCRIPT: 'gunicorn==20.1.0',
/// 'console_scripts','gunicorn'`) loads its entry point through the distribution's
/// `entry_points.txt`, by name: the module it names.
fn entry_point_module(cx: &HookContext, finder: &Finder, script: &str) -> Option<String> {
    let host = cx.inputs.host;
    let text = host.read_limited(Path::new(script), 4096).ok()?;
    let text = String::from_utf8_lossy(&text);
    let re =
        regex::Regex::new(r"EASY-INSTALL-ENTRY-SCRIPT: '([^'=]+)[^']*',\s*'([^']+)',\s*'([^']+)'")
            .ok()?;
    let caps = re.captures(&text)?;
    let (dist, group, name) = (normalize_dist(&caps[1]), &caps[2], &caps[3]);
    for e in finder.path.iter().filter(|e| e.kind == Kind::Site) {
        for n in host.read_dir(Path::new(&e.dir)).unwrap_or_default() {
            let n = n.to_string_lossy();
            let is_meta = n.ends_with(".dist-info") || n.ends_with(".egg-info");
            if !is_meta || normalize_dist(n.split('-').next().unwrap_or_default()) != dist {
                continue;
            }
            let eps = host
                .read_to_string(Path::new(&format!("{}/{n}/entry_points.txt", e.dir)))
                .ok()?;
            return entry_point(&eps, group, name);
        }
    }
    None
}

fn normalize_dist(name: &str) -> String {
    name.to_lowercase().replace(['-', '.'], "_")
}

/// `module` of `name = module:attr` in the `[group]` section of an `entry_points.txt`.
fn entry_point(text: &str, group: &str, name: &str) -> Option<String> {
    let mut in_group = false;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_group = section.trim() == group;
        } else if in_group {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == name {
                    return Some(v.split(':').next()?.trim().to_string());
                }
            }
        }
    }
    None
}

/// The modules a script file imports (absolute names only: a script is no package).
fn script_imports(cx: &HookContext, file: &str, what: &str) -> Vec<Seed> {
    let Ok(text) = cx.inputs.host.read_to_string(Path::new(file)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in imports::scan(&text).into_iter().filter(|i| i.level == 0) {
        let why = format!("imported by {what} {file}");
        let names = i.names.iter().map(|n| (format!("{}.{n}", i.module), true));
        for (module, optional) in std::iter::once((i.module.clone(), false)).chain(names) {
            out.push(Seed {
                module,
                why: why.clone(),
                conditional: i.conditional,
                optional,
            });
        }
    }
    out
}

/// `/usr/lib/python3/dist-packages/markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so` →
/// `markupsafe._speedups`, when it lies under a `sys.path` entry.
fn module_of_file(finder: &Finder, path: &str) -> Option<String> {
    let entry = finder
        .path
        .iter()
        .filter(|e| path.starts_with(&format!("{}/", e.dir)))
        .max_by_key(|e| e.dir.len())?;
    let rel = &path[entry.dir.len() + 1..];
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let stem = file.split('.').next()?;
    if !file.ends_with(".so") || stem.is_empty() || dir.contains('.') {
        return None;
    }
    Some(if dir.is_empty() {
        stem.to_string()
    } else {
        format!("{}.{stem}", dir.replace('/', "."))
    })
}

fn add_modules(cx: &HookContext, finder: &Finder, c: &Closure, tag: &str, d: &mut Draft) {
    let metadata = Metadata::index(cx, finder);
    for (name, r) in &c.modules {
        let kind = finder.kind(&r.located);
        let why = format!("python module {name}: {}", r.why);
        match kind {
            Kind::Stdlib => add_module_file(cx, &r.located, tag, &why, d),
            Kind::Site | Kind::App if !name.contains('.') => {
                if r.located.is_package() {
                    for dir in &r.located.package_dirs {
                        add_tree(
                            cx,
                            dir,
                            &format!("package {name} (copied whole): {}", r.why),
                            d,
                        );
                    }
                } else {
                    add_module_file(cx, &r.located, tag, &why, d);
                }
                if kind == Kind::Site {
                    for m in metadata.of(finder, name, &r.located) {
                        add_tree(
                            cx,
                            &m,
                            &format!("metadata of {name}, read by importlib.metadata"),
                            d,
                        );
                    }
                } else if let Some(file) = &r.located.file {
                    add_web_assets(cx, file, d);
                }
            }
            _ => {}
        }
    }
}

fn add_module_file(cx: &HookContext, l: &Located, tag: &str, why: &str, d: &mut Draft) {
    let Some(file) = &l.file else { return };
    d.files.add(file, Role::Code, why.to_string());
    if file.ends_with(".so") {
        d.elf_objects.push(file.clone());
    }
    if let Some(stem) = file.strip_suffix(".py") {
        let (dir, name) = stem.rsplit_once('/').unwrap_or(("", stem));
        let pyc = format!("{dir}/__pycache__/{name}.cpython-{tag}.pyc");
        if cx.inputs.host.exists(Path::new(&pyc)) {
            d.files.add(&pyc, Role::Code, format!("{why} (compiled)"));
        }
    }
}

fn add_tree(cx: &HookContext, dir: &str, why: &str, d: &mut Draft) {
    for f in crate::analyze::glob::expand(cx.inputs.host, dir) {
        let path = f.to_string_lossy().into_owned();
        if path.ends_with(".so") || path.contains(".so.") {
            d.elf_objects.push(path.clone());
        }
        d.files.add(&path, Role::Code, why.to_string());
    }
}

/// Flask finds `templates/` and `static/` beside the application's module.
fn add_web_assets(cx: &HookContext, module_file: &str, d: &mut Draft) {
    let Some(dir) = Path::new(module_file).parent() else {
        return;
    };
    for sub in ["templates", "static"] {
        let assets = dir.join(sub);
        if cx.inputs.host.stat(&assets).is_ok_and(|m| m.is_dir()) {
            add_tree(
                cx,
                &assets.to_string_lossy(),
                &format!("{sub} beside the application module {module_file}"),
                d,
            );
        }
    }
}

/// The encodings package whole (codecs are looked up by name at run time), `pyvenv.cfg`, and the
/// interpreter names the command line uses.
fn add_interpreter_files(cx: &HookContext, interp: &Interpreter, d: &mut Draft) {
    add_tree(
        cx,
        &format!("{}/encodings", interp.stdlib),
        "codecs are imported by name at run time",
        d,
    );
    d.add_dir(
        format!("{}/lib-dynload", interp.stdlib),
        "the interpreter's landmark for its platform-dependent modules",
    );
    if let Some(venv) = &interp.venv {
        let cfg = format!("{}/pyvenv.cfg", venv.dir);
        d.files.add(
            &cfg,
            Role::Config,
            "virtualenv: tells the interpreter its prefix",
        );
    }
    if let Some(argv0) = argv0_path(cx) {
        d.files.add(
            &argv0,
            Role::Code,
            "the interpreter as the command line names it",
        );
    }
}

/// `.pth` files of the site directories whose lines add directories (not ones that run code).
fn add_path_files(cx: &HookContext, finder: &Finder, d: &mut Draft) {
    let host = cx.inputs.host;
    for e in finder.path.iter().filter(|e| e.kind == Kind::Site) {
        let Ok(names) = host.read_dir(Path::new(&e.dir)) else {
            continue;
        };
        for n in names {
            let n = n.to_string_lossy();
            if !n.ends_with(".pth") {
                continue;
            }
            let pth = format!("{}/{n}", e.dir);
            let Ok(text) = host.read_to_string(Path::new(&pth)) else {
                continue;
            };
            let runs_code = text
                .lines()
                .any(|l| l.starts_with("import ") || l.starts_with("import\t"));
            if runs_code {
                d.findings.push(Finding::info(
                    &pth,
                    "python: a .pth file that runs code at start-up was not carried over",
                ));
                continue;
            }
            d.files.add(
                &pth,
                Role::Config,
                "site .pth file: adds directories to sys.path",
            );
            for line in text.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') {
                    let dir = crate::analyze::rules::absolutize(line, &e.dir);
                    add_tree(cx, &dir, &format!("added to sys.path by {pth}"), d);
                }
            }
        }
    }
}

/// `*.dist-info` / `*.egg-info` of each site directory, by the top-level names they ship.
struct Metadata {
    by_top: BTreeMap<(usize, String), Vec<String>>,
}

impl Metadata {
    fn index(cx: &HookContext, finder: &Finder) -> Metadata {
        let host = cx.inputs.host;
        let mut by_top: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
        for (i, e) in finder.path.iter().enumerate() {
            if e.kind != Kind::Site {
                continue;
            }
            for n in host.read_dir(Path::new(&e.dir)).unwrap_or_default() {
                let n = n.to_string_lossy().into_owned();
                if !(n.ends_with(".dist-info") || n.ends_with(".egg-info")) {
                    continue;
                }
                let dir = format!("{}/{n}", e.dir);
                let mut tops: BTreeSet<String> = host
                    .read_to_string(Path::new(&format!("{dir}/top_level.txt")))
                    .map(|t| t.lines().map(|l| l.trim().to_string()).collect())
                    .unwrap_or_default();
                tops.retain(|t| !t.is_empty());
                let dist = n.split('-').next().unwrap_or_default();
                tops.insert(dist.to_lowercase().replace('-', "_"));
                for t in tops {
                    by_top.entry((i, t)).or_default().push(dir.clone());
                }
            }
        }
        Metadata { by_top }
    }

    fn of(&self, finder: &Finder, top: &str, l: &Located) -> Vec<String> {
        let _ = finder;
        self.by_top
            .get(&(l.entry, top.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

fn summarize(cx: &HookContext, finder: &Finder, c: &Closure, interp: &Interpreter, d: &mut Draft) {
    let count = |k: Kind| {
        c.modules
            .values()
            .filter(|r| finder.kind(&r.located) == k)
            .count()
    };
    let whole = |k: Kind| {
        c.whole
            .iter()
            .filter(|n| {
                c.modules
                    .get(*n)
                    .is_some_and(|r| finder.kind(&r.located) == k)
            })
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let path: Vec<&str> = finder.path.iter().map(|e| e.dir.as_str()).collect();
    let venv = interp.venv.as_ref().map_or_else(
        || "no virtualenv".to_string(),
        |v| {
            format!(
                "virtualenv {} (system site-packages {})",
                v.dir,
                if v.system_site {
                    "included"
                } else {
                    "excluded"
                }
            )
        },
    );
    d.findings.push(Finding::info(
        format!("pid {}", cx.process.pid),
        format!(
            "python {}: {venv}; sys.path {}; {} standard-library modules, packages copied \
             whole: {}; application: {}",
            interp.version,
            path.join(":"),
            count(Kind::Stdlib),
            whole(Kind::Site),
            whole(Kind::App),
        ),
    ));
    if !c.not_taken.is_empty() {
        let list: Vec<String> = c
            .not_taken
            .iter()
            .map(|(top, why)| format!("{top} ({why}, off the top level)"))
            .collect();
        d.findings.push(Finding::info(
            format!("pid {}", cx.process.pid),
            format!(
                "python: installed packages that only conditional imports name were left out \
                 (add them to the plan if the app takes those code paths): {}",
                list.join("; ")
            ),
        ));
    }
    let unresolved: Vec<&str> = c
        .unresolved
        .iter()
        .map(String::as_str)
        .filter(|n| !BUILTIN.contains(&n.split('.').next().unwrap_or_default()))
        .collect();
    if !unresolved.is_empty() {
        let shown: Vec<&str> = unresolved.iter().take(25).copied().collect();
        d.findings.push(Finding::info(
            format!("pid {}", cx.process.pid),
            format!(
                "python: {} imports are not on the host (optional, or for another platform): {}{}",
                unresolved.len(),
                shown.join(", "),
                if unresolved.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        ));
    }
}
