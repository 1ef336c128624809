//! The image's file tree from an app's plan: every planned path with the symlinks and directories
//! leading to it, owners and modes as on the host, hardlinks kept.

use super::oci::{Entry, EntryKind, Source};
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Owners, Role};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Layout {
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
    /// Newest modification time among the host files taken: the default image date, so the same
    /// files give the same image without a clock in the way.
    pub newest_mtime: i64,
}

#[derive(Default)]
struct Tree {
    entries: BTreeMap<PathBuf, Entry>,
    /// (device, inode) of regular files with more than one link, to emit hardlinks.
    inodes: HashMap<PathBuf, (u64, u64)>,
    findings: Vec<Finding>,
    newest_mtime: i64,
}

pub fn layout(app: &AppPlan, host: &dyn Host, include_secrets: bool) -> Layout {
    let mut tree = Tree::default();
    for f in &app.files {
        if f.role == Role::Secret && !include_secrets {
            continue;
        }
        tree.add_host_path(host, Path::new(&f.path));
    }
    for d in &app.dirs {
        tree.add_dir(host, Path::new(&d.path));
    }
    for v in &app.volumes {
        tree.add_dir(host, Path::new(&v.path));
    }
    for g in &app.generated {
        let path = PathBuf::from(&g.path);
        tree.add_parents(host, &path);
        tree.insert(Entry {
            path,
            kind: EntryKind::File(Source::Bytes(g.content.clone().into_bytes())),
            mode: g.mode,
            uid: 0,
            gid: 0,
        });
    }
    if app.image.supervisor {
        tree.add_supervisor(host);
    }
    match super::rpmdb::for_image(app, host) {
        Ok(Some((bytes, count))) => {
            let path = PathBuf::from(super::rpmdb::PATH);
            tree.add_parents(host, &path);
            tree.findings.push(Finding::info(
                super::rpmdb::PATH,
                format!("scanner records: the image's rpm database lists its {count} rpm packages"),
            ));
            tree.insert(Entry {
                path,
                kind: EntryKind::File(Source::Bytes(bytes)),
                mode: 0o644,
                uid: 0,
                gid: 0,
            });
        }
        Ok(None) => {}
        Err(e) => tree.findings.push(Finding::warning(
            super::rpmdb::PATH,
            format!("scanner records not written: {e}"),
        )),
    }
    for l in &app.links {
        let path = PathBuf::from(&l.path);
        tree.add_parents(host, &path);
        tree.insert(Entry {
            path,
            kind: EntryKind::Symlink(PathBuf::from(&l.target)),
            mode: 0o777,
            uid: 0,
            gid: 0,
        });
    }
    let findings = std::mem::take(&mut tree.findings);
    let newest_mtime = tree.newest_mtime;
    let mut entries = tree.hardlinked();
    if app.image.owners == Owners::Root {
        let keep: Vec<&str> = app.volumes.iter().map(|v| v.path.as_str()).collect();
        for e in &mut entries {
            if !keep.iter().any(|k| e.path.starts_with(k)) {
                e.uid = 0;
                e.gid = 0;
            }
        }
    }
    Layout {
        entries,
        findings,
        newest_mtime,
    }
}

/// Host paths with the links and directories leading to them, for copies other than an image.
pub fn paths(paths: &[String], host: &dyn Host) -> Layout {
    let mut tree = Tree::default();
    for p in paths {
        tree.add_host_path(host, Path::new(p));
    }
    let findings = std::mem::take(&mut tree.findings);
    let newest_mtime = tree.newest_mtime;
    Layout {
        entries: tree.hardlinked(),
        findings,
        newest_mtime,
    }
}

impl Tree {
    /// Later entries for a path replace earlier ones: explicit plan entries come after the
    /// implicit directories that lead to them.
    fn insert(&mut self, e: Entry) {
        self.entries.insert(e.path.clone(), e);
    }

    /// liftkit's supervisor, PID 1 of the container (see `ImageSpec::supervisor`): the static
    /// liftkit-init, whose `pid1` name selects that mode.
    fn add_supervisor(&mut self, host: &dyn Host) {
        let path = PathBuf::from(crate::plan::SUPERVISOR);
        self.add_parents(host, &path);
        self.insert(Entry {
            path,
            kind: EntryKind::File(Source::Bytes(crate::hostimage::init::BINARY.to_vec())),
            mode: 0o755,
            uid: 0,
            gid: 0,
        });
    }

    fn add_host_path(&mut self, host: &dyn Host, path: &Path) {
        let resolved = match host.resolve(path) {
            Ok(r) => r,
            Err(e) => {
                self.findings.push(Finding::warning(
                    path.to_string_lossy(),
                    format!("in the plan but not readable on the source: {e}"),
                ));
                return;
            }
        };
        for link in &resolved.links {
            self.add_link(host, link);
        }
        self.add_parents(host, &resolved.real);
        let Ok(meta) = host.lstat(&resolved.real) else {
            return;
        };
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                self.inodes
                    .insert(resolved.real.clone(), (meta.dev(), meta.ino()));
            }
            self.newest_mtime = self.newest_mtime.max(meta.mtime());
            EntryKind::File(Source::Host(resolved.real.clone()))
        } else {
            self.findings.push(Finding::warning(
                resolved.real.to_string_lossy(),
                "a device, FIFO or socket: not copied into the image",
            ));
            return;
        };
        self.insert(Entry {
            path: resolved.real,
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }

    fn add_link(&mut self, host: &dyn Host, link: &Path) {
        if self.entries.contains_key(link) {
            return;
        }
        let (Ok(meta), Ok(target)) = (host.lstat(link), host.read_link(link)) else {
            return;
        };
        self.add_parents(host, link);
        self.insert(Entry {
            path: link.to_path_buf(),
            kind: EntryKind::Symlink(target),
            mode: 0o777,
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }

    /// A directory the plan wants to exist: the host's own (through its links) when it has one.
    fn add_dir(&mut self, host: &dyn Host, path: &Path) {
        match host.resolve(path) {
            Ok(r) if host.lstat(&r.real).is_ok_and(|m| m.is_dir()) => {
                for link in &r.links {
                    self.add_link(host, link);
                }
                self.add_parents(host, &r.real);
                self.add_dir_entry(host, &r.real);
            }
            _ => {
                self.add_parents(host, path);
                if !self.entries.contains_key(path) {
                    self.insert(Entry {
                        path: path.to_path_buf(),
                        kind: EntryKind::Dir,
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                    });
                }
            }
        }
    }

    /// Every ancestor of `path`, as the host has it (links included), so the image's layout is
    /// the host's.
    fn add_parents(&mut self, host: &dyn Host, path: &Path) {
        let Some(parent) = path.parent() else { return };
        if parent == Path::new("/") || self.entries.contains_key(parent) {
            return;
        }
        match host.resolve(parent) {
            Ok(r) => {
                for link in &r.links {
                    self.add_link(host, link);
                }
                if r.real != Path::new("/") && !self.entries.contains_key(&r.real) {
                    self.add_parents(host, &r.real);
                    self.add_dir_entry(host, &r.real);
                }
            }
            Err(_) => {
                self.add_parents(host, parent);
                self.insert(Entry {
                    path: parent.to_path_buf(),
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                });
            }
        }
    }

    fn add_dir_entry(&mut self, host: &dyn Host, real: &Path) {
        if self.entries.contains_key(real) {
            return;
        }
        let (mode, uid, gid) = host
            .lstat(real)
            .map(|m| (m.mode() & 0o7777, m.uid(), m.gid()))
            .unwrap_or((0o755, 0, 0));
        self.insert(Entry {
            path: real.to_path_buf(),
            kind: EntryKind::Dir,
            mode,
            uid,
            gid,
        });
    }

    /// Files sharing an inode on the host share it in the image: the first in path order holds
    /// the content, the others link to it.
    fn hardlinked(self) -> Vec<Entry> {
        let mut first: HashMap<(u64, u64), PathBuf> = HashMap::new();
        let inodes = self.inodes;
        self.entries
            .into_values()
            .map(|mut e| {
                if let Some(key) = inodes.get(&e.path) {
                    match first.get(key) {
                        Some(target) => e.kind = EntryKind::Hardlink(target.clone()),
                        None => {
                            first.insert(*key, e.path.clone());
                        }
                    }
                }
                e
            })
            .collect()
    }
}
