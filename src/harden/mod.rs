//! Lifted apps run hardened by default: a read-only root (volumes for state, tmpfs for what
//! need not be kept), every capability dropped but those the evidence shows the app needs, no
//! new privileges, and on request a system call profile made from the app's own trial trace.
//!
//! The plan's [`Hardening`] section is the model; this module fills it (from the source host at
//! analysis, from the trace at the trial run), checks it at build, turns it into each run
//! form's words, and explains a run it broke.

pub mod caps;
pub mod diagnose;
pub mod observed;
pub mod placement;
pub mod seccomp;

use crate::plan::{AppPlan, Hardening, OwnUser};
use std::borrow::Cow;

pub use caps::HostEvidence;

/// Where the profile sits beside run.sh, and the name Kubernetes' kubelet finds it under in its
/// seccomp directory (`/var/lib/kubelet/seccomp/liftkit/<app>.json`).
pub const PROFILE_FILE: &str = "seccomp.json";

pub fn kubelet_profile(app: &AppPlan) -> String {
    format!("liftkit/{}.json", app.slug())
}

/// The hardening of a freshly analyzed app: placements for its run-time directories, the
/// capabilities the host shows it needs, the places it writes, and the own-user offer.
pub fn analyze(ev: &HostEvidence, app: &mut AppPlan) {
    placement::run_time_tmpfs(app);
    let mut h = Hardening::hardened();
    caps::from_host(ev, app, &mut h);
    h.writes = placement::declared_writes(app);
    h.own_user = own_user(ev, &h);
    app.image.capabilities.clear();
    app.hardening = h;
}

/// The offer: a root master that only binds a low port and hands its workers to a user can
/// start as that user, keeping at most `CAP_NET_BIND_SERVICE`.
fn own_user(ev: &HostEvidence, h: &Hardening) -> Option<OwnUser> {
    let master = ev.procs[0];
    if master.uids[1] != 0 {
        return None;
    }
    let worker = ev
        .procs
        .iter()
        .find(|p| p.uids[1] != 0 && p.uids[1] != master.uids[1])?;
    let grants = h.capabilities.as_ref()?;
    let only_for_switching = grants.iter().all(|g| {
        matches!(
            g.name.as_str(),
            "CAP_NET_BIND_SERVICE" | "CAP_SETUID" | "CAP_SETGID" | "CAP_CHOWN"
        )
    });
    if !only_for_switching {
        return None;
    }
    let user = ev
        .snapshot
        .user_by_uid(worker.uids[1])
        .map_or_else(|| worker.uids[1].to_string(), |u| u.name.clone());
    let low_port = h.grants("CAP_NET_BIND_SERVICE");
    let capabilities: Vec<String> = low_port
        .then(|| "CAP_NET_BIND_SERVICE".to_string())
        .into_iter()
        .collect();
    Some(OwnUser {
        why: format!(
            "the source ran it as root only to {}switch to {user} (its workers ran as {user}): \
             it can run as {user} from the start{}",
            if low_port {
                "bind a port below 1024 and "
            } else {
                ""
            },
            if low_port {
                " with CAP_NET_BIND_SERVICE alone"
            } else {
                ", with no capability"
            }
        ),
        user,
        uid: worker.uids[1],
        gid: worker.gids[1],
        capabilities,
        accept: false,
    })
}

/// The app as the build runs it: the own-user offer applied when accepted, the profile used
/// when `--seccomp` asked for it. Idempotent.
pub fn applied(app: &AppPlan, seccomp: bool) -> Cow<'_, AppPlan> {
    let accept = app
        .hardening
        .own_user
        .as_ref()
        .is_some_and(|o| o.accept && app.image.uid != o.uid);
    if !accept && (!seccomp || app.hardening.seccomp) {
        return Cow::Borrowed(app);
    }
    let mut a = app.clone();
    a.hardening.seccomp |= seccomp;
    if let Some(own) = a.hardening.own_user.clone().filter(|_| accept) {
        a.image.user = own.user.clone();
        a.image.uid = own.uid;
        a.image.gid = own.gid;
        let before = a.hardening.capabilities.take().unwrap_or_default();
        a.hardening.capabilities = Some(
            own.capabilities
                .iter()
                .map(|name| crate::plan::Grant {
                    name: name.clone(),
                    why: before
                        .iter()
                        .find(|g| &g.name == name)
                        .map_or_else(|| own.why.clone(), |g| g.why.clone()),
                })
                .collect(),
        );
    }
    Cow::Owned(a)
}

/// The engine's words for the hardening (podman and docker spell them the same), without the
/// profile, whose path run.sh decides: read-only root, every capability dropped but the kept
/// ones, no new privileges.
pub fn engine_flags(app: &AppPlan) -> Vec<String> {
    let h = &app.hardening;
    let mut flags = Vec::new();
    if h.read_only {
        flags.push("--read-only".to_string());
    }
    if let Some(kept) = h.kept() {
        flags.push("--cap-drop=ALL".to_string());
        flags.extend(kept.iter().map(|c| format!("--cap-add={c}")));
    }
    if h.no_new_privileges {
        flags.push("--security-opt=no-new-privileges".to_string());
    }
    flags
}

/// The capability names the app's host service gets (LinuxKit, the offline host image): the
/// kept ones when hardened; an unhardened plan's own list, plus binding its low port.
pub fn service_capabilities(app: &AppPlan) -> Option<Vec<String>> {
    if let Some(kept) = app.hardening.kept() {
        return Some(kept);
    }
    let mut caps = app.image.capabilities.clone();
    let low_port = app.image.ports.iter().any(|p| {
        p.split('/')
            .next()
            .and_then(|n| n.parse::<u16>().ok())
            .is_some_and(|n| n < 1024)
    });
    if low_port {
        caps.push("CAP_NET_BIND_SERVICE".to_string());
    }
    let mut seen = std::collections::BTreeSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    (!caps.is_empty()).then_some(caps)
}
