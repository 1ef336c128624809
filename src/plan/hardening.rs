//! How the lifted app is boxed in, each choice with its reason: a read-only root (the plan's
//! volumes and tmpfs take what it writes), only the capabilities it was seen to need, no new
//! privileges, and, when asked for, a system call profile made from its own trace.
//!
//! `analyze` fills it from the source host (ports, users, owners and modes, `CapEff`), the trial
//! run adds what it observed (paths written, refusals, system calls); every run form reads it
//! through [`crate::harden`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hardening {
    /// The image's root file system is mounted read-only: the app writes only to its volumes
    /// and tmpfs.
    pub read_only: bool,
    /// `no-new-privileges`: no setuid program or file capability raises the app's privileges.
    pub no_new_privileges: bool,
    /// Every capability is dropped but these; `None` leaves the engine's default set (plans
    /// written before liftkit hardened its images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<Grant>>,
    /// What the source process held (its `CapEff`), for the report's comparison.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_capabilities: Vec<String>,
    /// Run forms apply `seccomp.json` (`--seccomp`): the system calls below, plus what the
    /// supervisor and the runtime need; any other call fails with EPERM.
    #[serde(default)]
    pub seccomp: bool,
    /// The system calls the app made in its trial run, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<String>,
    /// Where the app writes (seen in its trial run, or declared by its analyzer): each must be
    /// on a volume or a tmpfs, since the root is read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<Write>,
    /// The offer to run the app as its own user rather than as root (set `accept: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_user: Option<OwnUser>,
}

/// One capability kept, and why the app needs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// `CAP_NET_BIND_SERVICE`.
    pub name: String,
    pub why: String,
}

/// A place the app writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Write {
    pub path: String,
    pub why: String,
    /// The app was refused this write and answered as the original anyway (a pid file it
    /// cannot write): no place was given; the build notes it rather than warns.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tolerated: bool,
}

/// The app ran as root on the source only to bind a low port or to switch to this user: it can
/// run as this user from the start with at most `CAP_NET_BIND_SERVICE`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnUser {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// The capabilities it keeps then.
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub why: String,
    /// `true`: build runs the image as this user (the report says what changed).
    #[serde(default)]
    pub accept: bool,
}

impl Hardening {
    /// What a plan without a `hardening` section means: the engine's defaults, as before.
    pub fn unhardened() -> Hardening {
        Hardening {
            read_only: false,
            no_new_privileges: false,
            capabilities: None,
            source_capabilities: Vec::new(),
            seccomp: false,
            syscalls: Vec::new(),
            writes: Vec::new(),
            own_user: None,
        }
    }

    /// A hardened start: read-only root, no new privileges, no capability yet.
    pub fn hardened() -> Hardening {
        Hardening {
            read_only: true,
            no_new_privileges: true,
            capabilities: Some(Vec::new()),
            ..Hardening::unhardened()
        }
    }

    /// The names of the capabilities kept, when the plan drops the rest.
    pub fn kept(&self) -> Option<Vec<String>> {
        self.capabilities
            .as_ref()
            .map(|g| g.iter().map(|g| g.name.clone()).collect())
    }

    /// Adds a capability (once; a second reason is kept beside the first).
    pub fn grant(&mut self, name: &str, why: impl Into<String>) {
        let why = why.into();
        let grants = self.capabilities.get_or_insert_with(Vec::new);
        match grants.iter_mut().find(|g| g.name == name) {
            Some(g) if !g.why.contains(&why) => g.why = format!("{}; {why}", g.why),
            Some(_) => {}
            None => grants.push(Grant {
                name: name.to_string(),
                why,
            }),
        }
        grants.sort();
    }

    pub fn grants(&self, name: &str) -> bool {
        self.capabilities
            .as_ref()
            .is_some_and(|g| g.iter().any(|g| g.name == name))
    }
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening::unhardened()
    }
}
