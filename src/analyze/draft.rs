//! An application's plan while it is being worked out: what the analyzer's rules, the systemd
//! unit and hooks each add, before it is frozen into an `AppPlan`.

use super::fileset::FileSet;
use super::vars::Vars;
use crate::findings::Finding;
use crate::plan::{DirEntry, Link, Volume};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Draft {
    pub vars: Vars,
    pub files: FileSet,
    /// ELF objects whose loader closure must be added (executables, mapped and dlopen'd modules).
    pub elf_objects: Vec<String>,
    pub volumes: Vec<Volume>,
    pub links: Vec<Link>,
    pub dirs: Vec<DirEntry>,
    /// Variables set by the unit or a hook, over the process's own environment.
    pub env: Vec<String>,
    /// Names of variables evidence says the program reads (a wrapper exports them), with why:
    /// kept in the image whatever the program's strings say.
    pub env_read: BTreeMap<String, String>,
    pub entrypoint: Option<Vec<String>>,
    pub workdir: Option<String>,
    /// A user the unit names, when it differs from what the process shows.
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub restart: Option<String>,
    pub rlimits: BTreeMap<String, (u64, u64)>,
    pub capabilities: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Draft {
    pub fn add_volume(&mut self, v: Volume) {
        if !self.volumes.iter().any(|x| x.path == v.path) {
            self.volumes.push(v);
        }
    }

    pub fn add_dir(&mut self, path: impl Into<String>, why: impl Into<String>) {
        let path = path.into();
        if !self.dirs.iter().any(|d| d.path == path) {
            self.dirs.push(DirEntry {
                path,
                why: why.into(),
            });
        }
    }

    /// Sets (or replaces) one variable of the image's environment.
    pub fn set_env(&mut self, kv: String) {
        let key = kv.split('=').next().unwrap_or_default().to_string();
        self.env
            .retain(|e| e.split('=').next() != Some(key.as_str()));
        self.env.push(kv);
    }

    /// Files under volumes are the volume's, and log files are links to the engine's streams:
    /// neither is baked.
    pub fn settle(&mut self) {
        for v in &self.volumes {
            self.files.remove_under(&v.path);
        }
        for l in &self.links {
            self.files.remove(&l.path);
        }
        self.volumes.sort_by(|a, b| a.path.cmp(&b.path));
        self.dirs.sort_by(|a, b| a.path.cmp(&b.path));
        self.dirs.dedup_by(|a, b| a.path == b.path);
        self.links.sort_by(|a, b| a.path.cmp(&b.path));
        self.links.dedup_by(|a, b| a.path == b.path);
    }
}
