//! Python joins the table through its hook (`analyze::hooks::python`): the interpreter's
//! `sys.path` and the static closure of the program's imports. Run here for a Python process no
//! analyzer claimed; an analyzer that names the hook (gunicorn) has run it already.

use crate::analyze::draft::Draft;
use crate::analyze::hooks::{self, HookContext};
use crate::analyze::sources::{AppFacts, Found, Kind};
use crate::analyze::Inputs;
use crate::plan::{Role, VolumeKind};
use crate::snapshot::Process;

pub fn closure(inp: &Inputs, app: &AppFacts, p: &Process) -> Found {
    let mut found = Found::default();
    if app.analyzer.hook.as_deref() == Some("python") {
        return found;
    }
    let procs = [p];
    let cx = HookContext {
        inputs: inp,
        process: p,
        processes: &procs,
        analyzer: app.analyzer,
        config: None,
    };
    let mut scratch = Draft::default();
    hooks::run("python", &cx, &mut scratch);
    for (path, role, why, confidence) in scratch.files.iter() {
        for w in why {
            found.file(path, role, w.clone(), confidence);
        }
    }
    for d in scratch.dirs {
        found.add(
            d.path,
            Kind::Dir,
            Role::State,
            d.why,
            crate::plan::Confidence::Declared,
        );
    }
    for v in scratch.volumes {
        let kind = if v.kind == VolumeKind::Volume {
            Kind::Volume
        } else {
            Kind::Scratch
        };
        found.add(
            v.path,
            kind,
            Role::State,
            v.why,
            crate::plan::Confidence::Declared,
        );
    }
    found.findings = scratch.findings;
    found
}
