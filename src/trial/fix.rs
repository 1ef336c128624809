//! From a round's trace to plan entries: each path the lifted app looked for and did not find,
//! that exists on the source host, is added with the reason [`WHY`]; an executable or library
//! brings its loader closure, a script its `#!` interpreter, a directory that held nothing in the
//! image its files (a few), a file to create in a missing directory that directory.

use super::trace::Trace;
use crate::analyze::PackageIndex;
use crate::elf::{LoaderEnv, Resolver};
use crate::host::Host;
use crate::plan::{AppPlan, DirEntry, FileEntry, Role, SecretMount};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const WHY: &str = "opened by the lifted app in its trial run";

/// A directory found missing is taken with its files when it is this small; a larger one is
/// taken empty (the next round shows which of its files the app opens).
const DIR_FILES_MAX: usize = 64;
const DIR_BYTES_MAX: u64 = 16 << 20;

/// Paths no image should hold, whatever the app asked: the kernel's and the engine's.
const NEVER: &[&str] = &["/proc", "/sys", "/dev", "/.liftkit", "/run/secrets"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Additions {
    pub files: Vec<FileEntry>,
    pub dirs: Vec<DirEntry>,
    pub secrets: Vec<SecretMount>,
}

impl Additions {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }

    /// Every path added, for the report.
    pub fn paths(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .files
            .iter()
            .map(|f| f.path.clone())
            .chain(self.dirs.iter().map(|d| format!("{}/", d.path)))
            .collect();
        all.sort();
        all
    }

    pub fn apply(&self, app: &mut AppPlan) {
        app.files.extend(self.files.iter().cloned());
        app.files.sort_by(|a, b| a.path.cmp(&b.path));
        app.dirs.extend(self.dirs.iter().cloned());
        app.dirs.sort_by(|a, b| a.path.cmp(&b.path));
        app.secrets.extend(self.secrets.iter().cloned());
    }
}

/// What the trace asks for that the plan lacks and the host has.
pub fn additions(
    trace: &Trace,
    app: &AppPlan,
    host: &dyn Host,
    resolver: &Resolver,
    packages: &PackageIndex,
) -> Additions {
    let mut cx = Fixer {
        app,
        host,
        resolver,
        packages,
        planned: app
            .files
            .iter()
            .map(|f| f.path.clone())
            .chain(app.dirs.iter().map(|d| d.path.clone()))
            .collect(),
        out: Additions::default(),
    };
    for (path, call) in &trace.missing {
        if cx.wanted(path) {
            cx.add_path(path, &format!("{WHY} ({call})"));
        }
    }
    // A script whose interpreter is missing fails its exec with ENOENT on the script's own
    // name, which the image holds: its `#!` line names what is missing.
    for (path, call) in &trace.missing {
        if call.starts_with("execve") && cx.planned.contains(path) {
            cx.add_interpreter(path);
        }
    }
    for (path, call) in &trace.missing_parent {
        let Some(parent) = Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
        else {
            continue;
        };
        if cx.wanted(&parent) && host.stat(Path::new(&parent)).is_ok_and(|m| m.is_dir()) {
            cx.planned.insert(parent.clone());
            cx.out.dirs.push(DirEntry {
                path: parent,
                why: format!("{WHY} ({call} of {path} needs it)"),
            });
        }
    }
    cx.out
}

struct Fixer<'a> {
    app: &'a AppPlan,
    host: &'a dyn Host,
    resolver: &'a Resolver,
    packages: &'a PackageIndex,
    planned: BTreeSet<String>,
    out: Additions,
}

impl Fixer<'_> {
    /// Not already planned, not the kernel's or engine's, not inside a volume or tmpfs (their
    /// content is the volume's).
    fn wanted(&self, path: &str) -> bool {
        let p = Path::new(path);
        !self.planned.contains(path)
            && !NEVER.iter().any(|n| p.starts_with(n))
            && !self
                .app
                .volumes
                .iter()
                .any(|v| p.starts_with(&v.path) && p != Path::new(&v.path))
    }

    fn add_path(&mut self, path: &str, why: &str) {
        let Ok(meta) = self.host.stat(Path::new(path)) else {
            return; // not on the source either: the app was probing
        };
        if meta.is_dir() {
            self.add_dir(path, why);
        } else if meta.is_file() {
            self.add_file(path, why);
        }
        // Sockets, FIFOs and devices are not files an image can hold.
    }

    fn add_file(&mut self, path: &str, why: &str) {
        if !self.planned.insert(path.to_string()) {
            return;
        }
        let role = if let Some(hit) = crate::analyze::secrets::scan_file(self.host, path) {
            self.out.secrets.push(SecretMount {
                path: path.to_string(),
                kind: hit.kind,
                why: format!("{WHY}: {}", hit.detail),
            });
            Role::Secret
        } else if path.starts_with("/etc/") {
            Role::Config
        } else {
            Role::Code
        };
        self.out.files.push(FileEntry {
            path: path.to_string(),
            role,
            why: vec![why.to_string()],
            package: self.packages.owner(path),
        });
        if is_elf(self.host, path) {
            self.add_closure(path);
        } else {
            self.add_interpreter(path);
        }
    }

    fn add_dir(&mut self, path: &str, why: &str) {
        if !self.planned.insert(path.to_string()) {
            return;
        }
        self.out.files.push(FileEntry {
            path: path.to_string(),
            role: if path.starts_with("/etc/") {
                Role::Config
            } else {
                Role::Code
            },
            why: vec![why.to_string()],
            package: None,
        });
        let Ok(entries) = self.host.list(Path::new(path)) else {
            return;
        };
        let files: Vec<PathBuf> = entries
            .into_iter()
            .map(|name| Path::new(path).join(name))
            .filter(|p| self.host.stat(p).is_ok_and(|m| m.is_file()))
            .collect();
        let bytes: u64 = files
            .iter()
            .filter_map(|p| self.host.stat(p).ok())
            .map(|m| m.size())
            .sum();
        if files.len() <= DIR_FILES_MAX && bytes <= DIR_BYTES_MAX {
            for f in files {
                let f = f.to_string_lossy().into_owned();
                self.add_file(&f, &format!("{WHY} (in {path}, which it looked for)"));
            }
        }
    }

    /// The loader's closure of an executable or library the trial added.
    fn add_closure(&mut self, path: &str) {
        let env = LoaderEnv {
            ld_library_path: self.env("LD_LIBRARY_PATH"),
            ld_preload: self.env("LD_PRELOAD"),
        };
        let r = self.resolver.resolve(Path::new(path), &env);
        let needed: Vec<(String, String)> = r
            .interpreter
            .iter()
            .map(|i| {
                (
                    i.to_string_lossy().into_owned(),
                    format!("interpreter of {path}"),
                )
            })
            .chain(r.libraries.iter().map(|l| {
                (
                    crate::host::normalize(&l.path)
                        .to_string_lossy()
                        .into_owned(),
                    format!(
                        "needed-by {} (added by its trial run)",
                        l.needed_by.display()
                    ),
                )
            }))
            .collect();
        for (lib, why) in needed {
            if self.wanted(&lib) {
                self.add_file(&lib, &why);
            }
        }
    }

    /// A script's `#!` interpreter, when the image lacks it.
    fn add_interpreter(&mut self, script: &str) {
        let Ok(head) = self.host.read_limited(Path::new(script), 256) else {
            return;
        };
        let Some(line) = head.strip_prefix(b"#!") else {
            return;
        };
        let line = String::from_utf8_lossy(line);
        let Some(interp) = line
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().next())
        else {
            return;
        };
        let interp = interp.to_string();
        if self.wanted(&interp) {
            self.add_path(&interp, &format!("{WHY} (#! interpreter of {script})"));
        }
    }

    fn env(&self, key: &str) -> Option<String> {
        self.app
            .image
            .env
            .iter()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
    }
}

fn is_elf(host: &dyn Host, path: &str) -> bool {
    host.read_limited(Path::new(path), 4)
        .is_ok_and(|b| b.starts_with(b"\x7fELF"))
}
