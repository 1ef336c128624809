//! From a round's trace to plan entries: each path the lifted app looked for and did not find,
//! that exists on the source host, is added with the reason [`WHY`]; an executable or library
//! brings its loader closure, a script its `#!` interpreter, a directory that held nothing in the
//! image its files (a few), a file to create in a missing directory that directory.

use super::trace::Trace;
use crate::analyze::PackageIndex;
use crate::elf::{LoaderEnv, Resolver};
use crate::host::Host;
use crate::plan::{AppPlan, Confidence, DirEntry, FileEntry, Grant, Role, SecretMount, Volume};
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
    /// Run the image as root: the app was refused and it switches to its user itself (the
    /// evidence: where its command line or config names that user).
    pub run_as_root: Option<String>,
    /// A volume or tmpfs for each write the read-only root refused.
    pub volumes: Vec<Volume>,
    /// Capabilities a refused call needs, when the app did not answer without them.
    pub grants: Vec<Grant>,
    /// Where it listened in the trial, for an app whose plan knew no port (declared on a
    /// disk, never seen running).
    pub listen: Vec<String>,
}

impl Additions {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.dirs.is_empty()
            && self.run_as_root.is_none()
            && self.volumes.is_empty()
            && self.grants.is_empty()
            && self.listen.is_empty()
    }

    /// Every path added, for the report.
    pub fn paths(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .files
            .iter()
            .map(|f| f.path.clone())
            .chain(self.dirs.iter().map(|d| format!("{}/", d.path)))
            .collect();
        all.extend(
            self.volumes
                .iter()
                .map(|v| format!("{} {}", format!("{:?}", v.kind).to_lowercase(), v.path)),
        );
        all.sort();
        if let Some(why) = &self.run_as_root {
            all.push(format!("user root ({why})"));
        }
        all.extend(self.grants.iter().map(|g| g.name.clone()));
        all.extend(self.listen.iter().map(|l| format!("listen {l}")));
        all
    }

    pub fn apply(&self, app: &mut AppPlan) {
        app.files.extend(self.files.iter().cloned());
        app.files.sort_by(|a, b| a.path.cmp(&b.path));
        app.dirs.extend(self.dirs.iter().cloned());
        app.dirs.sort_by(|a, b| a.path.cmp(&b.path));
        app.secrets.extend(self.secrets.iter().cloned());
        for v in &self.volumes {
            app.findings.push(crate::findings::Finding::info(
                &v.path,
                format!(
                    "the app writes here and the root is read-only: a {} was added ({})",
                    format!("{:?}", v.kind).to_lowercase(),
                    v.why
                ),
            ));
            app.hardening.writes.push(crate::plan::Write {
                path: v.path.clone(),
                why: v.why.clone(),
                tolerated: false,
            });
        }
        app.volumes.extend(self.volumes.iter().cloned());
        app.volumes.sort_by(|a, b| a.path.cmp(&b.path));
        app.volumes.dedup_by(|a, b| a.path == b.path);
        app.hardening.writes.sort();
        app.hardening.writes.dedup_by(|a, b| a.path == b.path);
        for g in &self.grants {
            app.hardening.grant(&g.name, g.why.clone());
        }
        if !self.listen.is_empty() {
            app.image.listen = self.listen.clone();
            app.findings.push(crate::findings::Finding::info(
                &app.name,
                format!(
                    "listens on {} (seen in its trial run: no process of the source was \
                     observed listening)",
                    self.listen.join(", ")
                ),
            ));
        }
        if let Some(why) = &self.run_as_root {
            // It starts as root to switch to its user itself: that takes setuid and setgid.
            if app.hardening.capabilities.is_some() {
                let switch = format!("it switches to {} itself ({why})", app.image.user);
                app.hardening.grant("CAP_SETUID", switch.clone());
                app.hardening.grant("CAP_SETGID", switch);
            }
            app.findings.push(crate::findings::Finding::info(
                &app.name,
                format!(
                    "runs as root in the image, as it started on the source host: {why} \
                     (added by its trial run, where it was refused as {})",
                    app.image.user
                ),
            ));
            app.image.user = "root".to_string();
            app.image.uid = 0;
            app.image.gid = 0;
        }
    }
}

/// Whether the app switches to its user itself, so it was started as root on the host: its
/// command line or one of its config files names that user (`-u memcache`, `User tinyproxy`,
/// `server.username = "www-data"`). Returns where it is named.
pub fn switches_user(app: &AppPlan, host: &dyn Host) -> Option<String> {
    let user = app.image.user.as_str();
    if app.image.uid == 0 || user.is_empty() || user == "root" {
        return None;
    }
    let names = |text: &str| {
        text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .any(|w| w == user)
    };
    for p in &app.processes {
        if p.cmdline.iter().skip(1).any(|a| names(a)) {
            return Some(format!("its command line names {user}"));
        }
    }
    let on_cmdline = |path: &str| {
        app.processes.iter().any(|p| {
            p.cmdline
                .iter()
                .any(|a| a.ends_with(path) || a.contains(&format!("={path}")))
        })
    };
    let configish = |path: &str| {
        let name = path.rsplit('/').next().unwrap_or(path);
        name.contains("conf")
            || name.ends_with(".cfg")
            || name.ends_with(".cnf")
            || name.ends_with(".ini")
    };
    for f in app
        .files
        .iter()
        .filter(|f| f.role == Role::Config || configish(&f.path) || on_cmdline(&f.path))
    {
        if f.path == "/etc/passwd" || f.path == "/etc/group" {
            continue;
        }
        let Ok(bytes) = host.read_limited(Path::new(&f.path), 1 << 20) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(names)
        {
            return Some(format!("{} names {user}", f.path));
        }
    }
    None
}

/// What the trace asks for that the plan lacks and the host has.
pub fn additions(
    trace: &Trace,
    app: &AppPlan,
    host: &dyn Host,
    resolver: &Resolver,
    packages: &PackageIndex,
    answered: bool,
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
    // A listing is a search (Python reads every directory of its path): what an app that
    // answered did not ask for by name it does not need. Only a failing app gets its listings
    // completed.
    if !answered {
        for dir in listed_dirs(trace) {
            cx.complete_listing(&dir);
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

/// Directories the app listed (opened with O_DIRECTORY): a program that reads a directory's
/// listing (Python's import system, a conf.d or plugin directory) never asks for a file it does
/// not see there, so a missing entry shows only as an entry the host's listing has.
fn listed_dirs(trace: &Trace) -> Vec<String> {
    trace
        .opened
        .iter()
        .filter(|(p, flags)| {
            **flags & libc::O_DIRECTORY as u64 != 0
                && ![
                    "/",
                    "/tmp",
                    "/var/tmp",
                    "/etc",
                    "/usr",
                    "/usr/lib",
                    "/usr/bin",
                    "/usr/sbin",
                ]
                .contains(&p.as_str())
        })
        .map(|(p, _)| p.clone())
        .collect()
}

/// A listed directory is completed only when this many entries or fewer are missing from it
/// (beyond that it is a search through a big system directory, not the app's own tree).
const LISTING_MAX: usize = 256;

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
            && crate::harden::placement::shows_image_files(self.app, path)
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
        let hit = crate::analyze::secrets::scan_unless_pristine(
            self.host,
            path,
            self.packages.owner(path),
        );
        let role = if let Some(hit) = hit {
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
            // The lifted program asked for it: the surest evidence there is.
            confidence: Confidence::Observed,
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
            confidence: Confidence::Observed,
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

    /// The entries of a directory the app listed that the host has and the image lacks: files
    /// are added, subdirectories added empty (the next round shows whether it lists them too).
    /// What the analysis left out on purpose, and its companions beside it (`llvmjit.so` left
    /// out leaves `llvmjit_types.bc` out too).
    fn left_out(&self, path: &str) -> bool {
        let stem = |p: &str| -> (String, String) {
            let p = Path::new(p);
            let dir = p.parent().map(|d| d.to_string_lossy().into_owned());
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let stem = name.unwrap_or_default();
            let stem = stem.split(['.', '_', '-']).next().unwrap_or("").to_string();
            (dir.unwrap_or_default(), stem)
        };
        let (dir, mine) = stem(path);
        self.app.findings.iter().any(|f| {
            f.message.contains("left out") && {
                let (d, theirs) = stem(&f.subject);
                f.subject == path || (d == dir && !theirs.is_empty() && theirs == mine)
            }
        })
    }

    fn complete_listing(&mut self, dir: &str) {
        if !self.wanted_dir(dir) {
            return;
        }
        let Ok(names) = self.host.list(Path::new(dir)) else {
            return;
        };
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let in_image: BTreeSet<String> = self
            .planned
            .iter()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next().map(str::to_string))
            .collect();
        let missing: Vec<String> = names
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !in_image.contains(n))
            .collect();
        if missing.is_empty() || missing.len() > LISTING_MAX {
            return;
        }
        for name in missing {
            let path = format!("{prefix}{name}");
            // A listing is a weak reason: it does not bring back what the analysis left out on
            // purpose (PostgreSQL's JIT provider and the 100 MB of LLVM it pulls in).
            if !self.wanted(&path) || self.left_out(&path) {
                continue;
            }
            let why = format!("{WHY} (listed {dir}, which holds it on the source)");
            match self.host.stat(Path::new(&path)) {
                Ok(m) if m.is_dir() => {
                    self.planned.insert(path.clone());
                    self.out.files.push(FileEntry {
                        path,
                        role: Role::Code,
                        why: vec![why],
                        confidence: Confidence::Observed,
                        package: None,
                    });
                }
                Ok(m) if m.is_file() => self.add_file(&path, &why),
                _ => {}
            }
        }
    }

    /// A directory whose listing may be completed: not the kernel's, not a volume's.
    fn wanted_dir(&self, dir: &str) -> bool {
        let p = Path::new(dir);
        !NEVER.iter().any(|n| p.starts_with(n))
            && !self.app.volumes.iter().any(|v| v.path == dir)
            && crate::harden::placement::shows_image_files(self.app, dir)
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
