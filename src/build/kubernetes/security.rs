//! The containers' `securityContext`, from the plan: the user and group the app ran as.
//!
//! One function per container kind, so the hardening the plan will carry (read-only root,
//! capabilities, seccomp, no privilege escalation) lands here and nowhere else.

use crate::plan::AppPlan;
use serde_json::{json, Value};

/// The app's container: as the user the source ran it as.
pub fn app_container(app: &AppPlan) -> Value {
    json!({
        "runAsUser": app.image.uid,
        "runAsGroup": app.image.gid,
        "runAsNonRoot": app.image.uid != 0,
    })
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
