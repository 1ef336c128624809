//! One resolution: ld.so's `_dl_map_object_deps` over one program, breadth first, with
//! `_dl_map_object`'s search for each name.

use std::path::Path;
use std::sync::Arc;

use super::resolve::{dirname, to_path, verify, Found, Probe, Resolver, Verdict};
use super::search::{self, Dst};
use super::target::Target;
use super::{FastMap, Library, LoaderEnv, Missing, Resolution, Via};

/// Objects in one link map beyond this mean a hostile input (real programs load < 500).
const MAX_OBJECTS: usize = 4096;

struct Node {
    path: String,
    found: Arc<Found>,
    loader: Option<usize>,
    /// `$ORIGIN`; for the program it is computed on first use (it costs a realpath).
    origin: Option<String>,
    /// Expanded DT_RPATH / DT_RUNPATH directories, computed on first use.
    rpath: Option<Vec<String>>,
    runpath: Option<Vec<String>>,
    is_rtld: bool,
    rtld_reported: bool,
}

/// Where a search ended.
enum Outcome {
    Loaded,
    NotFound,
    Fatal(String),
}

pub(crate) struct Walk<'a> {
    r: &'a Resolver,
    target: Arc<Target>,
    nodes: Vec<Node>,
    by_name: FastMap<String, usize>,
    by_id: FastMap<(u64, u64), usize>,
    env_dirs: Vec<String>,
    out: Resolution,
}

impl<'a> Walk<'a> {
    pub(crate) fn run(r: &'a Resolver, file: &Path, env: &LoaderEnv) -> Resolution {
        let mut out = Resolution {
            file: file.to_path_buf(),
            ..Default::default()
        };
        let path = file.to_string_lossy().into_owned();
        let found = match r.probe_direct(&path) {
            Probe::Found(f) => f,
            Probe::Absent => {
                out.warnings.push(format!("{path}: not found"));
                return out;
            }
            Probe::Bad(e) => {
                out.warnings.push(format!("{path}: {e}"));
                return out;
            }
        };
        out.warnings
            .extend(found.obj.warnings.iter().map(|w| format!("{path}: {w}")));
        out.interpreter = found.obj.interp.as_deref().map(to_path);
        let Some(abi) = found.obj.abi else {
            return out;
        };
        if !found.obj.has_dynamic {
            return out;
        }
        let target = r.target(abi);
        let mut walk = Walk {
            r,
            target,
            nodes: Vec::new(),
            by_name: FastMap::default(),
            by_id: FastMap::default(),
            env_dirs: Vec::new(),
            out,
        };
        walk.add_node(path.clone(), found, None, None, &path);
        walk.add_rtld();
        walk.env_dirs = walk.split_env(env.ld_library_path.as_deref());
        walk.preload(env);
        walk.breadth_first();
        walk.out
    }

    fn add_node(
        &mut self,
        path: String,
        found: Arc<Found>,
        loader: Option<usize>,
        origin: Option<String>,
        name: &str,
    ) {
        let idx = self.nodes.len();
        self.by_name.entry(name.to_string()).or_insert(idx);
        self.by_name.entry(path.clone()).or_insert(idx);
        if let Some(so) = &found.obj.soname {
            self.by_name.entry(so.clone()).or_insert(idx);
        }
        self.by_id.entry(found.id).or_insert(idx);
        self.nodes.push(Node {
            path,
            found,
            loader,
            origin,
            rpath: None,
            runpath: None,
            is_rtld: false,
            rtld_reported: false,
        });
    }

    /// The dynamic loader is in the link map from the start, under its PT_INTERP name and its
    /// SONAME; a library without PT_INTERP gets the machine's standard loader (as `ldd` uses).
    fn add_rtld(&mut self) {
        let interp = match &self.out.interpreter {
            Some(p) => p.to_string_lossy().into_owned(),
            None => self.target.interpreter.clone(),
        };
        if interp.is_empty() {
            return;
        }
        let found = match self.r.probe(&interp) {
            Probe::Found(f) => f,
            _ => {
                if self.out.interpreter.is_some() {
                    self.out.warnings.push(format!(
                        "interpreter {interp} not found or not loadable in the root"
                    ));
                    self.out.missing.push(Missing {
                        name: interp.clone(),
                        needed_by: self.out.file.clone(),
                    });
                }
                return;
            }
        };
        let soname = found.obj.soname.clone();
        let idx = self.nodes.len();
        self.by_name.insert(interp.clone(), idx);
        let base = interp.rsplit('/').next().unwrap_or(&interp).to_string();
        self.by_name.insert(soname.unwrap_or(base), idx);
        self.nodes.push(Node {
            origin: Some(dirname(&interp)),
            path: interp,
            found,
            loader: None,
            rpath: Some(Vec::new()),
            runpath: Some(Vec::new()),
            is_rtld: true,
            rtld_reported: false,
        });
    }

    fn split_env(&mut self, list: Option<&str>) -> Vec<String> {
        let Some(list) = list else { return Vec::new() };
        let origin = self.origin(0);
        let mut warnings = Vec::new();
        let dirs = search::split_list(list, &[':', ';'], &self.dst(&origin), &mut warnings);
        self.out.warnings.extend(warnings);
        dirs
    }

    /// The kernel hands ld.so the program's resolved path, so its `$ORIGIN` is the real
    /// directory; a library's is the directory of the path it was opened under.
    fn origin(&mut self, i: usize) -> String {
        if let Some(o) = &self.nodes[i].origin {
            return o.clone();
        }
        let path = self.nodes[i].path.clone();
        let o = self
            .r
            .host()
            .real_path(Path::new(&path))
            .map(|p| dirname(&p.to_string_lossy()))
            .unwrap_or_else(|_| dirname(&path));
        self.nodes[i].origin = Some(o.clone());
        o
    }

    fn dst<'b>(&'b self, origin: &'b str) -> Dst<'b> {
        Dst {
            origin,
            lib: &self.target.lib,
            platform: &self.r.hwcaps(&self.target).platform,
        }
    }

    /// LD_PRELOAD, then /etc/ld.so.preload, each loaded with the program as loader.
    fn preload(&mut self, env: &LoaderEnv) {
        let mut names: Vec<String> = env
            .ld_preload
            .as_deref()
            .unwrap_or("")
            .split([' ', ':'])
            .filter(|s| !s.is_empty())
            .take(1024)
            .map(str::to_string)
            .collect();
        names.extend(self.r.preload_file.iter().cloned());
        for name in names {
            match self.map_object(0, &name, true) {
                Outcome::Loaded => {}
                Outcome::NotFound => {
                    self.out.warnings.push(format!(
                        "object '{name}' cannot be preloaded (cannot open shared object file): ignored"
                    ));
                }
                Outcome::Fatal(e) => self.fatal(&name, 0, e),
            }
        }
    }

    fn breadth_first(&mut self) {
        let mut i = 0;
        while i < self.nodes.len() {
            if self.nodes[i].is_rtld {
                i += 1;
                continue;
            }
            let needed = self.nodes[i].found.obj.needed.clone();
            for name in needed {
                if self.nodes.len() >= MAX_OBJECTS {
                    self.out
                        .warnings
                        .push(format!("more than {MAX_OBJECTS} objects; stopped"));
                    return;
                }
                match self.map_object(i, &name, false) {
                    Outcome::Loaded => {}
                    Outcome::NotFound => self.out.missing.push(Missing {
                        name,
                        needed_by: to_path(&self.nodes[i].path),
                    }),
                    Outcome::Fatal(e) => self.fatal(&name, i, e),
                }
            }
            i += 1;
        }
    }

    fn fatal(&mut self, name: &str, loader: usize, err: String) {
        let needed_by = to_path(&self.nodes[loader].path);
        self.out.warnings.push(format!(
            "{name} (needed by {}): {err}; ld.so would stop here",
            needed_by.display()
        ));
        self.out.missing.push(Missing {
            name: name.to_string(),
            needed_by,
        });
    }

    /// `_dl_map_object`: an already loaded match, else a search, then identity dedup.
    fn map_object(&mut self, loader: usize, name: &str, preload: bool) -> Outcome {
        if let Some(&idx) = self.by_name.get(name) {
            self.note_rtld_use(idx, name, loader);
            return Outcome::Loaded;
        }
        let found = if name.contains('/') {
            self.open_direct(loader, name)
        } else {
            self.search(loader, name)
        };
        let (path, found, via, hwcap) = match found {
            Ok(Some(x)) => x,
            Ok(None) => return Outcome::NotFound,
            Err(e) => return Outcome::Fatal(e),
        };
        if let Some(&idx) = self.by_id.get(&found.id) {
            self.by_name.insert(name.to_string(), idx);
            self.note_rtld_use(idx, name, loader);
            return Outcome::Loaded;
        }
        if let Some(h) = hwcap {
            if !self.out.hwcaps_used.contains(&h) {
                self.out.hwcaps_used.push(h);
            }
        }
        self.out
            .warnings
            .extend(found.obj.warnings.iter().map(|w| format!("{path}: {w}")));
        self.out.libraries.push(Library {
            name: name.to_string(),
            path: to_path(&path),
            needed_by: to_path(&self.nodes[loader].path),
            via: if preload { Via::Preload } else { via },
        });
        let origin = dirname(&path);
        self.add_node(path, found, Some(loader), Some(origin), name);
        Outcome::Loaded
    }

    /// The loader counts as loaded once something needs it; report that first use.
    fn note_rtld_use(&mut self, idx: usize, name: &str, loader: usize) {
        let node = &mut self.nodes[idx];
        if !node.is_rtld || node.rtld_reported {
            return;
        }
        node.rtld_reported = true;
        let path = to_path(&node.path);
        self.out.libraries.push(Library {
            name: name.to_string(),
            path,
            needed_by: to_path(&self.nodes[loader].path),
            via: Via::Interpreter,
        });
    }

    fn open_direct(&mut self, loader: usize, name: &str) -> SearchResult {
        let origin = self.origin(loader);
        let Some(path) = search::expand(name, &self.dst(&origin)) else {
            return Ok(None);
        };
        let path = if path.starts_with('/') {
            path
        } else {
            self.out
                .warnings
                .push(format!("relative DT_NEEDED {name:?} taken from /"));
            format!("/{path}")
        };
        self.try_file(&path, Via::Direct, None)
    }

    /// The search order of `_dl_map_object` for a bare name.
    fn search(&mut self, loader: usize, name: &str) -> SearchResult {
        if self.nodes[loader].found.obj.runpath.is_none() {
            let mut did_main = false;
            let mut l = Some(loader);
            let mut hops = 0;
            while let Some(i) = l {
                if self.nodes[i].found.obj.rpath.is_some() {
                    let dirs = self.rpath_dirs(i, false);
                    if let Some(hit) = self.try_dirs(&dirs, name, Via::Rpath)? {
                        return Ok(Some(hit));
                    }
                    did_main |= i == 0;
                }
                l = self.nodes[i].loader;
                hops += 1;
                if hops > MAX_OBJECTS {
                    break;
                }
            }
            if !did_main && self.nodes[0].found.obj.rpath.is_some() {
                let dirs = self.rpath_dirs(0, false);
                if let Some(hit) = self.try_dirs(&dirs, name, Via::Rpath)? {
                    return Ok(Some(hit));
                }
            }
        }
        let env = std::mem::take(&mut self.env_dirs);
        let hit = self.try_dirs(&env, name, Via::LdLibraryPath);
        self.env_dirs = env;
        if let Some(hit) = hit? {
            return Ok(Some(hit));
        }
        if self.nodes[loader].found.obj.runpath.is_some() {
            let dirs = self.rpath_dirs(loader, true);
            if let Some(hit) = self.try_dirs(&dirs, name, Via::Runpath)? {
                return Ok(Some(hit));
            }
        }
        let nodeflib = self.nodes[loader].found.obj.nodeflib;
        if let Some(hit) = self.try_cache(name, nodeflib)? {
            return Ok(Some(hit));
        }
        if nodeflib {
            return Ok(None);
        }
        let dirs = self.target.default_dirs.clone();
        self.try_dirs(&dirs, name, Via::DefaultDir)
    }

    fn rpath_dirs(&mut self, i: usize, runpath: bool) -> Vec<String> {
        let cached = if runpath {
            &self.nodes[i].runpath
        } else {
            &self.nodes[i].rpath
        };
        if let Some(d) = cached {
            return d.clone();
        }
        let obj = &self.nodes[i].found.obj;
        let list = if runpath {
            obj.runpath.clone()
        } else {
            obj.rpath.clone()
        }
        .unwrap_or_default();
        let origin = self.origin(i);
        let mut warnings = Vec::new();
        let dirs = search::split_list(&list, &[':'], &self.dst(&origin), &mut warnings);
        let path = self.nodes[i].path.clone();
        self.out
            .warnings
            .extend(warnings.into_iter().map(|w| format!("{path}: {w}")));
        let node = &mut self.nodes[i];
        if runpath {
            node.runpath = Some(dirs.clone());
        } else {
            node.rpath = Some(dirs.clone());
        }
        dirs
    }

    /// ld.so.cache, or when the root has none, the ld.so.conf directories standing in for it.
    fn try_cache(&mut self, name: &str, nodeflib: bool) -> SearchResult {
        let Some(cache) = &self.r.cache else {
            let dirs = self.r.conf_dirs.clone();
            return self.try_dirs(&dirs, name, Via::LdSoConf);
        };
        let hw = self.r.hwcaps(&self.target);
        let t = &self.target;
        let Some(hit) = cache.lookup(
            name,
            t.cache_flags,
            |f| t.accepts_cache_flags(f),
            |s| hw.priority(s),
        ) else {
            return Ok(None);
        };
        if nodeflib && t.in_default_dirs(&hit.path) {
            return Ok(None);
        }
        self.try_file(&hit.path, Via::Cache, hit.hwcaps)
    }

    fn try_dirs(&mut self, dirs: &[String], name: &str, via: Via) -> SearchResult {
        let subdirs = &self.r.hwcaps(&self.target).subdirs;
        for dir in dirs {
            for sub in subdirs {
                let full = if sub.is_empty() {
                    search::join(dir, name)
                } else {
                    search::join(dir, &format!("{sub}/{name}"))
                };
                let hwcap = sub.strip_prefix("glibc-hwcaps/").map(str::to_string);
                if let Some(hit) = self.try_file(&full, via, hwcap)? {
                    return Ok(Some(hit));
                }
            }
        }
        Ok(None)
    }

    fn try_file(&mut self, path: &str, via: Via, hwcap: Option<String>) -> SearchResult {
        match self.r.probe(path) {
            Probe::Absent => Ok(None),
            Probe::Bad(e) => Err(format!("{path}: {e}")),
            Probe::Found(found) => match verify(&found, &self.target) {
                Verdict::Load => Ok(Some((path.to_string(), found, via, hwcap))),
                Verdict::Skip(why) => {
                    self.out.warnings.push(format!("skipped {path}: {why}"));
                    Ok(None)
                }
                Verdict::Fatal(e) => Err(format!("{path}: {e}")),
            },
        }
    }
}

type SearchResult = Result<Option<(String, Arc<Found>, Via, Option<String>)>, String>;
