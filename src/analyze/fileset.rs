//! The files an application needs, each with its role and every reason it is there.

use crate::plan::{Confidence, FileEntry, Role};
use std::collections::BTreeMap;
use std::path::Path;

/// Paths that are the kernel's or the engine's, never content to copy.
const NOT_FILES: &[&str] = &["/proc/", "/sys/", "/dev/", "/run/", "/tmp/", "/var/tmp/"];

#[derive(Debug, Clone)]
struct Entry {
    role: Role,
    why: Vec<String>,
    confidence: Confidence,
}

#[derive(Debug, Default, Clone)]
pub struct FileSet {
    entries: BTreeMap<String, Entry>,
}

impl FileSet {
    /// Adds `path` (or another reason for it) as something a rule, a package or the program
    /// declares. A secret stays a secret whatever else names it; otherwise the first role given
    /// wins, as the strongest evidence is added first.
    pub fn add(&mut self, path: &str, role: Role, why: impl Into<String>) {
        self.add_as(path, role, why, Confidence::Declared);
    }

    /// Adds what the process itself showed (its executable, its mappings, its descriptors).
    pub fn add_observed(&mut self, path: &str, role: Role, why: impl Into<String>) {
        self.add_as(path, role, why, Confidence::Observed);
    }

    /// Adds `path` with how sure its evidence is; the file keeps the surest of its reasons.
    pub fn add_as(&mut self, path: &str, role: Role, why: impl Into<String>, c: Confidence) {
        let why = why.into();
        let entry = self
            .entries
            .entry(path.to_string())
            .or_insert_with(|| Entry {
                role,
                why: Vec::new(),
                confidence: c,
            });
        if role == Role::Secret {
            entry.role = Role::Secret;
        }
        entry.confidence = entry.confidence.min(c);
        if !entry.why.contains(&why) {
            entry.why.push(why);
        }
    }

    pub fn role(&self, path: &str) -> Option<Role> {
        self.entries.get(path).map(|e| e.role)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry: path, role, reasons and confidence, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Role, &[String], Confidence)> {
        self.entries
            .iter()
            .map(|(p, e)| (p.as_str(), e.role, e.why.as_slice(), e.confidence))
    }

    /// Paths with their roles, in path order.
    pub fn roles(&self) -> impl Iterator<Item = (&str, Role)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e.role))
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
            .map(|(path, e)| FileEntry {
                package: package_of(&path),
                path,
                role: e.role,
                why: e.why,
                confidence: e.confidence,
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
