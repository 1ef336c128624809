//! Rules that cannot be data, each a Rust function named by an analyzer's `hook = "…"` and listed
//! in `crate::registry`. A hook reads what analysis read and adds to the draft; it never writes
//! anything. Here: what hooks are given, the generic runtimes (Python, the JVM, PHP) and the
//! vendor tree; application hooks live in `crate::apps`.

use super::draft::Draft;
use super::spec::Analyzer;
use super::syntax::ConfigRead;
use super::Inputs;
use crate::plan::{Role, Volume, VolumeKind};
use crate::snapshot::Process;
use std::path::Path;

pub(crate) mod jvm;
pub(crate) mod php;
pub(crate) mod python;

pub struct HookContext<'a> {
    pub inputs: &'a Inputs<'a>,
    /// The application's main process.
    pub process: &'a Process,
    pub processes: &'a [&'a Process],
    pub analyzer: &'a Analyzer,
    pub config: Option<&'a ConfigRead>,
}

/// Runs the hook of that name (analyzers are checked against the registry when they load).
pub fn run(name: &str, cx: &HookContext, d: &mut Draft) {
    if let Some(hook) = crate::registry::hook(name) {
        (hook.run)(cx, d);
    }
}

/// Vendor software installed as one tree (`/opt/<vendor>/…`) finds its libraries, plugins and
/// configuration relative to itself: take the whole tree, scan its ELF objects, and keep its state
/// directory (`/var/lib/<vendor>`) as a volume.
pub(crate) fn vendor_tree(cx: &HookContext, d: &mut Draft) {
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
                scratch: false,
                why: format!("state of the vendor tree {tree}"),
            });
        }
    }
    let logs = format!("/var/log/{vendor}");
    if host.stat(Path::new(&logs)).is_ok_and(|m| m.is_dir()) {
        d.add_dir(logs, format!("log directory of the vendor tree {tree}"));
    }
}
