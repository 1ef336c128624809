//! The files an application needs, each with its role and every reason it is there.

use crate::plan::{FileEntry, Role};
use std::collections::BTreeMap;
use std::path::Path;

/// Paths that are the kernel's or the engine's, never content to copy.
const NOT_FILES: &[&str] = &["/proc/", "/sys/", "/dev/", "/run/", "/tmp/", "/var/tmp/"];

#[derive(Debug, Default, Clone)]
pub struct FileSet {
    entries: BTreeMap<String, (Role, Vec<String>)>,
}

impl FileSet {
    /// Adds `path` (or another reason for it). A secret stays a secret whatever else names it;
    /// otherwise the first role given wins, as the strongest evidence is added first.
    pub fn add(&mut self, path: &str, role: Role, why: impl Into<String>) {
        let why = why.into();
        let entry = self
            .entries
            .entry(path.to_string())
            .or_insert_with(|| (role, Vec::new()));
        if role == Role::Secret {
            entry.0 = Role::Secret;
        }
        if !entry.1.contains(&why) {
            entry.1.push(why);
        }
    }

    pub fn role(&self, path: &str) -> Option<Role> {
        self.entries.get(path).map(|(role, _)| *role)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn remove_under(&mut self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|p| p.starts_with(&prefix) || *p == dir)
            .cloned()
            .collect();
        for p in &gone {
            self.entries.remove(p);
        }
        gone
    }

    pub fn remove(&mut self, path: &str) {
        self.entries.remove(path);
    }

    pub fn into_entries(self, package_of: impl Fn(&str) -> Option<String>) -> Vec<FileEntry> {
        self.entries
            .into_iter()
            .map(|(path, (role, why))| FileEntry {
                package: package_of(&path),
                path,
                role,
                why,
            })
            .collect()
    }
}

/// Whether a path the process holds open or mapped names a file worth copying.
pub fn is_copyable(path: &str) -> bool {
    path.starts_with('/')
        && !NOT_FILES.iter().any(|p| path.starts_with(p))
        && !path.contains(" (deleted)")
        && Path::new(path).components().count() > 1
}
