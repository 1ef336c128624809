//! The plan: the editable, replayable description of what each lifted image holds.
//!
//! `analyze` writes it, people review and edit it, `build` reads it and nothing else (plus file
//! contents from the source root it names). Every file carries the reasons it is there.

mod hardening;
mod load;
pub mod logs;

use crate::findings::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use hardening::{Grant, Hardening, OwnUser, Write};
pub use load::{load, parse, save, to_yaml, LoadError};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub schema: u32,
    pub source: Source,
    /// Paths never taken, in gitignore syntax (`.liftignore` beside the plan, `--exclude`):
    /// analyze leaves matching files out, and build leaves them out of volume data too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<ExcludeRule>,
    pub apps: Vec<AppPlan>,
}

/// One line of an ignore file, or one `--exclude`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExcludeRule {
    pub pattern: String,
    /// Where it was written: `.liftignore:3`, or `--exclude`.
    pub from: String,
}

/// A path an exclude rule kept out, with the rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Excluded {
    pub path: String,
    /// What it would have been: `file (config)`, `volume data of /var/lib/redis`, …
    pub what: String,
    pub pattern: String,
    pub from: String,
}

/// Choices for deploying the image beyond one engine (Kubernetes, Compose).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// On the node's own network (Kubernetes `hostNetwork`), as the source ran; by default the
    /// app gets the cluster's network and a Service for its ports.
    #[serde(default)]
    pub host_network: bool,
    /// Configuration files people change per environment: Kubernetes mounts them from a
    /// ConfigMap instead of baking them.
    #[serde(default)]
    pub per_environment: Vec<String>,
    /// Requests and limits, sized from what the original used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// Kubernetes quantities (`250m`, `96Mi`) and how they were sized.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
    pub why: String,
}

/// Where the application came from and where build reads file contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub hostname: String,
    pub os: String,
    /// os-release `ID` and `VERSION_ID` (`debian`, `12`): the package URLs in the SBOM name them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os_version_id: String,
    pub kernel: String,
    /// The root file contents are read from: `/` for the live host, else a bundle or mounted disk
    /// (relative paths are taken from the plan file's directory).
    pub root: String,
    /// The snapshot the plan was made from, for the report.
    #[serde(default)]
    pub snapshot: String,
    #[serde(default)]
    pub packages_count: usize,
    /// Sysctls of the source host that the applications depend on.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default)]
    pub boot_cmdline: String,
    #[serde(default)]
    pub cpu_level: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppPlan {
    /// Also the output directory name: `out/<name>/`.
    pub name: String,
    /// The analyzer that recognized it, or `generic`.
    pub analyzer: String,
    #[serde(default)]
    pub version: String,
    pub fit: Fit,
    #[serde(default)]
    pub fit_reasons: Vec<String>,
    pub processes: Vec<ProcessInfo>,
    #[serde(default)]
    pub unit: Option<String>,
    pub image: ImageSpec,
    pub files: Vec<FileEntry>,
    /// Files whose content liftkit writes (a passwd with only the users the app runs as).
    #[serde(default)]
    pub generated: Vec<Generated>,
    /// Symlinks liftkit adds (a log file → /dev/stdout).
    #[serde(default)]
    pub links: Vec<Link>,
    /// Empty directories that must exist (with the host's owner and mode when it has them).
    #[serde(default)]
    pub dirs: Vec<DirEntry>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub secrets: Vec<SecretMount>,
    /// Addresses this app connects to that another lifted app serves.
    #[serde(default)]
    pub connections: Vec<String>,
    #[serde(default)]
    pub probes: Vec<Probe>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The packages the app's files come from, as installed on the source host: the report
    /// compares the image with their installed size, the fleet report compares versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageUse>,
    #[serde(default)]
    pub deploy: Deploy,
    /// Paths the plan's exclude rules kept out of this app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<Excluded>,
    /// Read-only root, capabilities, no new privileges, syscall profile (see [`Hardening`]); a
    /// plan without it runs with the engine's defaults.
    #[serde(default)]
    pub hardening: Hardening,
}

/// How verify checks the application answers: one of `http`, `tcp` or `send` + `expect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// `GET /path`: status and body compared between the original and the lifted app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// Connect to every listening TCP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<bool>,
    /// Bytes sent (escapes `\r\n` allowed)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// …and a regex the answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PackageUse {
    pub name: String,
    pub version: String,
    /// dpkg's Installed-Size (rpm's SIZE) on the source host, in KiB.
    #[serde(default)]
    pub installed_kib: u64,
    /// The package's architecture as its database records it (`amd64`, `x86_64`, `noarch`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// dpkg's `Source` field (`glibc (2.36-9+deb12u4)`), empty when it is the package's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Lifts as is: an analyzer knows it and nothing blocks.
    Good,
    /// Lifts from runtime evidence alone, or with findings to review.
    Partial,
    /// Something blocks a faithful lift (devices, kernel modules, a GUI).
    Poor,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessInfo {
    pub pid: i32,
    pub user: String,
    pub cmdline: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Full reference, e.g. `localhost/liftkit/nginx:1.22.1`.
    pub name: String,
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    /// The user name the app runs as; `uid`/`gid` are what the image config records.
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub workdir: String,
    #[serde(default)]
    pub env: Vec<String>,
    /// Variables of the process left out, with why (host noise, secrets).
    #[serde(default)]
    pub env_dropped: BTreeMap<String, String>,
    /// `8080/tcp`, as the app listened on the source host.
    #[serde(default)]
    pub ports: Vec<String>,
    /// The addresses it listened on, for the report and the network choice.
    #[serde(default)]
    pub listen: Vec<String>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `keep`: owners as on the host. `root`: every entry owned by root except what the app's
    /// user must own (volumes, its own state).
    #[serde(default)]
    pub owners: Owners,
    /// Network mode for run.sh and the LinuxKit service (`host`, as the source ran).
    #[serde(default = "default_network")]
    pub network: String,
    #[serde(default)]
    pub restart: Option<String>,
    /// Resource limits carried from the source process (`nofile` → soft, hard).
    #[serde(default)]
    pub rlimits: BTreeMap<String, (u64, u64)>,
    /// Capabilities of plans written before `hardening` held them (it supersedes this list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Run the entrypoint under liftkit's supervisor ([`SUPERVISOR`], PID 1 of the container):
    /// a program that daemonizes (`-d`, or by default) keeps the container up, the stop signal
    /// reaches it, zombies are reaped and the container exits with the service's status. The
    /// entrypoint above stays the program's own command line.
    #[serde(default = "yes")]
    pub supervisor: bool,
}

/// Where the build puts the supervisor in every image: a directory of liftkit's own that no
/// host tree has, so it never shadows a file of the app.
pub const SUPERVISOR: &str = "/.liftkit/pid1";

impl ImageSpec {
    /// The command the engine starts (OCI `Entrypoint`, Dockerfile, Kubernetes `command`,
    /// LinuxKit): the entrypoint under the supervisor when the plan asks for it.
    pub fn launch(&self) -> Vec<String> {
        if !self.supervisor {
            return self.entrypoint.clone();
        }
        let mut argv = vec![SUPERVISOR.to_string(), "--".to_string()];
        argv.extend(self.entrypoint.iter().cloned());
        argv
    }
}

fn yes() -> bool {
    true
}

fn default_network() -> String {
    "host".to_string()
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Owners {
    #[default]
    Keep,
    Root,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Code,
    Config,
    State,
    Log,
    Secret,
}

/// How sure the evidence for a file is, strongest first: the process showed it (`observed`:
/// mapped, open, traced), something the program or its operator wrote names it (`declared`: an
/// analyzer rule, the command line, an include, a package's conffiles, an ELF `NEEDED`, a
/// `require`), or a heuristic matched (`guessed`: a token in a configuration or a string in a
/// binary that happens to name an existing path).
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Observed,
    #[default]
    Declared,
    Guessed,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Observed => "observed",
            Confidence::Declared => "declared",
            Confidence::Guessed => "guessed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub role: Role,
    pub why: Vec<String>,
    /// The surest of its reasons (plans written before it was recorded read as `declared`).
    #[serde(default)]
    pub confidence: Confidence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Generated {
    pub path: String,
    pub role: Role,
    pub why: String,
    pub content: String,
    /// Octal permission bits, as `ls` and `chmod` write them.
    #[serde(default = "default_file_mode", with = "octal")]
    pub mode: u32,
}

fn default_file_mode() -> u32 {
    0o644
}

/// Modes read and written as octal strings (`"0644"`): a plan is edited by people.
mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{mode:04o}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        u32::from_str_radix(text.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "mode {text:?} is not an octal mode like \"0644\""
                ))
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub path: String,
    pub target: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirEntry {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub path: String,
    pub kind: VolumeKind,
    /// Copy the host's data into the volume at build time.
    #[serde(default)]
    pub populate: bool,
    /// How to populate it when a plain copy of a live application's files would not be
    /// consistent: a populate strategy of `crate::registry` (`pg_basebackup`), checked when the
    /// plan loads. None: copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub populate_with: Option<String>,
    pub why: String,
    /// Set when the source application was writing here as it was analyzed: a copy taken while
    /// it runs may not be consistent. Says who writes and what the user can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_writes: Option<String>,
    /// What the app writes here need not outlive it (a pid file beside its own files, in a
    /// volume seeded with them): the data is the image's, so Kubernetes gives it a fresh
    /// `emptyDir` filled from the data image at each start, and the app stays a Deployment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scratch: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VolumeKind {
    Volume,
    Tmpfs,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretMount {
    /// Where the application reads it.
    pub path: String,
    /// What kind of secret: `private key`, `password in config`, …
    pub kind: String,
    pub why: String,
}

impl AppPlan {
    /// The short name used for volumes and containers: the app name without characters engines
    /// refuse.
    pub fn slug(&self) -> String {
        slug(&self.name)
    }
}

pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    if s.is_empty() {
        "app".to_string()
    } else {
        s
    }
}

/// The name a volume for `path` gets under `out/<app>/volumes/`.
pub fn volume_name(path: &str) -> String {
    slug(&path.trim_matches('/').replace('/', "-"))
}
