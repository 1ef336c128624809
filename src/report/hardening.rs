//! The report's Hardening section: whether the root is read-only and what takes the app's
//! writes, the capabilities kept with their reasons, the profile's size, the user, and what
//! changed from the way the source host ran the app.

use crate::harden::seccomp;
use crate::plan::{AppPlan, VolumeKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HardeningSection {
    /// False for a plan written before liftkit hardened its images.
    pub hardened: bool,
    pub read_only: bool,
    pub no_new_privileges: bool,
    /// `www-data (uid 33, gid 33)`.
    pub user: String,
    pub capabilities: Vec<Row>,
    /// What happens to the others, in a sentence.
    pub capabilities_note: String,
    pub tmpfs: Vec<Row>,
    pub volumes: Vec<Row>,
    /// System calls the profile allows (0: no profile yet), and of them the app's own.
    pub profile_syscalls: usize,
    pub app_syscalls: usize,
    pub seccomp: String,
    /// What is not as it was on the source host, one line each.
    pub changes: Vec<String>,
    /// The offer to run as the app's own user, in a sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub own_user: String,
    /// Places the app writes that the plan leaves on the read-only root.
    pub unplaced: Vec<Row>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub name: String,
    pub why: String,
}

pub fn section(app: &AppPlan) -> HardeningSection {
    let h = &app.hardening;
    let img = &app.image;
    let places = |kind: VolumeKind| -> Vec<Row> {
        app.volumes
            .iter()
            .filter(|v| v.kind == kind)
            .map(|v| Row {
                name: v.path.clone(),
                why: v.why.clone(),
            })
            .collect()
    };
    let capabilities: Vec<Row> = h
        .capabilities
        .iter()
        .flatten()
        .map(|g| Row {
            name: g.name.clone(),
            why: g.why.clone(),
        })
        .collect();
    let profile_syscalls = if h.syscalls.is_empty() {
        0
    } else {
        seccomp::allowed(&h.syscalls).len()
    };
    let app_syscalls = h.syscalls.iter().filter(|c| !c.starts_with('#')).count();
    let seccomp = match (profile_syscalls, h.seccomp) {
        (0, true) => "asked for (--seccomp), but no trial run traced the app yet: run.sh \
                      refuses to start without seccomp.json"
            .to_string(),
        (0, false) => "no profile: no trial run traced the app (the engine's default profile \
                       applies)"
            .to_string(),
        (n, true) => format!(
            "seccomp.json allows {n} system calls ({app_syscalls} the app made in its trial \
             run, the rest its supervisor's and the runtime's); any other fails with EPERM; \
             applied by run.sh, compose.yaml and Kubernetes"
        ),
        (n, false) => format!(
            "seccomp.json allows {n} system calls ({app_syscalls} the app made in its trial \
             run); not applied: build with --seccomp (or run.sh with \
             SECCOMP=seccomp.json) to use it; the engine's default profile applies"
        ),
    };
    let unplaced = crate::harden::placement::unplaced(app)
        .into_iter()
        .map(|f| Row {
            name: f.subject,
            why: f.message,
        })
        .collect();
    HardeningSection {
        hardened: h.capabilities.is_some() || h.read_only,
        read_only: h.read_only,
        no_new_privileges: h.no_new_privileges,
        user: format!("{} (uid {}, gid {})", img.user, img.uid, img.gid),
        capabilities_note: match &h.capabilities {
            None => "the engine's default set (the plan names none)".to_string(),
            Some(g) if g.is_empty() => "none: every capability is dropped".to_string(),
            Some(_) => "every other capability is dropped".to_string(),
        },
        capabilities,
        tmpfs: places(VolumeKind::Tmpfs),
        volumes: places(VolumeKind::Volume),
        profile_syscalls,
        app_syscalls,
        seccomp,
        changes: changes(app, profile_syscalls),
        own_user: h
            .own_user
            .as_ref()
            .map(|o| {
                if o.accept && img.uid == o.uid {
                    format!("runs as {} (accepted): {}", o.user, o.why)
                } else {
                    format!(
                        "{} (set hardening.own_user.accept: true in the plan and build again)",
                        o.why
                    )
                }
            })
            .unwrap_or_default(),
        unplaced,
    }
}

fn changes(app: &AppPlan, profile_syscalls: usize) -> Vec<String> {
    let h = &app.hardening;
    let mut out = Vec::new();
    if h.read_only {
        let (v, t) = app.volumes.iter().fold((0, 0), |(v, t), x| match x.kind {
            VolumeKind::Volume => (v + 1, t),
            VolumeKind::Tmpfs => (v, t + 1),
        });
        out.push(format!(
            "root file system: writable on the host, read-only here (writes go to {v} volume(s) \
             and {t} tmpfs)"
        ));
    }
    if let Some(kept) = h.kept() {
        let before = if h.source_capabilities.is_empty() {
            if app.processes.first().is_some_and(|p| p.user == "root") {
                "every capability (root)".to_string()
            } else {
                "none".to_string()
            }
        } else if h.source_capabilities == ["ALL"] {
            "every capability (root)".to_string()
        } else {
            h.source_capabilities.join(", ")
        };
        out.push(format!(
            "capabilities: {before} on the host; {} here",
            if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            }
        ));
    }
    if h.no_new_privileges {
        out.push(
            "no-new-privileges: on (a setuid program or file capability cannot raise privileges)"
                .to_string(),
        );
    }
    if h.seccomp && profile_syscalls > 0 {
        out.push(format!(
            "system calls: any on the host; {profile_syscalls} allowed here (seccomp.json)"
        ));
    }
    if let Some(p) = app.processes.first() {
        if p.user != app.image.user {
            out.push(format!(
                "user: {} on the host; {} here",
                p.user, app.image.user
            ));
        }
    }
    out
}
