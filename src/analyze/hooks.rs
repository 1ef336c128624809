//! Rules that cannot be data, each a Rust function named by an analyzer's `hook = "…"`. A hook
//! reads what analysis read and adds to the draft; it never writes anything.

use super::draft::Draft;
use super::spec::Analyzer;
use super::syntax::ConfigRead;
use super::Inputs;
use crate::plan::{Role, Volume, VolumeKind};
use crate::snapshot::Process;
use std::path::Path;

mod apache;
mod jvm;
pub(crate) mod php;
mod postgres;
mod python;
mod tomcat;

pub struct HookContext<'a> {
    pub inputs: &'a Inputs<'a>,
    /// The application's main process.
    pub process: &'a Process,
    pub processes: &'a [&'a Process],
    pub analyzer: &'a Analyzer,
    pub config: Option<&'a ConfigRead>,
}

type Hook = fn(&HookContext, &mut Draft);

/// Every hook, by the name analyzers use.
const HOOKS: &[(&str, Hook)] = &[
    ("vendor-tree", vendor_tree),
    ("apache", apache::hook),
    ("postgresql", postgres::postgresql),
    ("python", python::hook),
    ("tomcat", tomcat::tomcat),
];

pub fn names() -> Vec<&'static str> {
    HOOKS.iter().map(|(n, _)| *n).collect()
}

pub fn exists(name: &str) -> bool {
    HOOKS.iter().any(|(n, _)| *n == name)
}

pub fn run(name: &str, cx: &HookContext, d: &mut Draft) {
    if let Some((_, hook)) = HOOKS.iter().find(|(n, _)| *n == name) {
        hook(cx, d);
    }
}

/// Vendor software installed as one tree (`/opt/<vendor>/…`) finds its libraries, plugins and
/// configuration relative to itself: take the whole tree, scan its ELF objects, and keep its state
/// directory (`/var/lib/<vendor>`) as a volume.
fn vendor_tree(cx: &HookContext, d: &mut Draft) {
    let Some(exe) = cx.process.exe.as_deref() else {
        return;
    };
    let Some(rest) = exe.strip_prefix("/opt/") else {
        return;
    };
    let Some(vendor) = rest
        .split('/')
        .next()
        .filter(|v| !v.is_empty() && rest.contains('/'))
    else {
        return;
    };
    let host = cx.inputs.host;
    let tree = format!("/opt/{vendor}");
    for f in super::glob::expand(host, &tree) {
        let path = f.to_string_lossy().into_owned();
        d.files.add(
            &path,
            Role::Code,
            format!("installed tree of the application ({tree})"),
        );
        if host.read_limited(&f, 4).is_ok_and(|b| b == b"\x7fELF") {
            d.elf_objects.push(path);
        }
    }
    for (dir, kind) in [
        (format!("/var/lib/{vendor}"), VolumeKind::Volume),
        (format!("/var/cache/{vendor}"), VolumeKind::Tmpfs),
    ] {
        if host.stat(Path::new(&dir)).is_ok_and(|m| m.is_dir()) {
            d.add_volume(Volume {
                path: dir.clone(),
                kind,
                populate: kind == VolumeKind::Volume,
                populate_with: None,
                live_writes: None,
                why: format!("state of the vendor tree {tree}"),
            });
        }
    }
    let logs = format!("/var/log/{vendor}");
    if host.stat(Path::new(&logs)).is_ok_and(|m| m.is_dir()) {
        d.add_dir(logs, format!("log directory of the vendor tree {tree}"));
    }
}
