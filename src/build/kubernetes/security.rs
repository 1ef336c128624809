//! The containers' `securityContext`, from the plan: the user and group the app ran as.
//!
//! One function per container kind, so the hardening the plan will carry (read-only root,
//! capabilities, seccomp, no privilege escalation) lands here and nowhere else.

use crate::plan::AppPlan;
use serde_json::{json, Value};

/// The app's container: as the user the source ran it as, with the plan's hardening as run.sh
/// applies it: a read-only root (the plan's volumes and tmpfs are mounted over it), every
/// capability dropped but the kept ones, no privilege escalation, and with `--seccomp` the
/// app's own profile, which the node must hold at `<kubelet seccomp dir>/liftkit/<app>.json`
/// (the `seccomp.json` beside run.sh).
pub fn app_container(app: &AppPlan) -> Value {
    let h = &app.hardening;
    let mut ctx = json!({
        "runAsUser": app.image.uid,
        "runAsGroup": app.image.gid,
        "runAsNonRoot": app.image.uid != 0,
    });
    let map = ctx.as_object_mut().expect("an object");
    if h.read_only {
        map.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if h.no_new_privileges {
        map.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    if let Some(kept) = h.kept() {
        // Kubernetes names capabilities without the CAP_ prefix.
        let add: Vec<&str> = kept
            .iter()
            .map(|c| c.strip_prefix("CAP_").unwrap_or(c))
            .collect();
        map.insert(
            "capabilities".into(),
            json!({ "drop": ["ALL"], "add": add }),
        );
    }
    if h.seccomp && !h.syscalls.is_empty() {
        map.insert(
            "seccompProfile".into(),
            json!({ "type": "Localhost", "localhostProfile": format!("liftkit/{}.json", app.slug()) }),
        );
    }
    ctx
}

/// The init container that fills volumes: root, since it gives each file the owner the source
/// had; it runs no code of the app and exits before the app starts.
pub fn populate_container() -> Value {
    json!({
        "runAsUser": 0,
        "runAsGroup": 0,
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"], "add": ["CHOWN", "FOWNER", "DAC_OVERRIDE"] },
    })
}
