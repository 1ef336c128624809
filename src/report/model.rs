//! The report model: plain data, every figure already formatted, so templates only lay it out and
//! `report.json` reads the same as the pages.

use super::chart::Chart;
use super::text::{human_bytes, shell_join};
use super::{findings, sizes, Inputs, SCHEMA_VERSION};
use crate::plan::{volume_name, Fit, Role, VolumeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: u32,
    pub liftkit_version: String,
    pub host: HostSection,
    pub app: AppSection,
    pub fit: FitSection,
    pub image: ImageSection,
    pub files: FilesSection,
    pub sizes: SizeSection,
    pub volumes: VolumesSection,
    pub secrets: Vec<SecretRow>,
    pub env: EnvSection,
    pub findings: FindingsSection,
    pub run: RunSection,
    /// Read-only root, capabilities, profile, user: how the lifted app is boxed in.
    #[serde(default)]
    pub hardening: super::hardening::HardeningSection,
    /// The result of `liftkit verify`, once it ran; the report says "not run" until then.
    pub verify: Option<VerifySummary>,
    /// The trial run's rounds after the build (`lift`, `build --trial`), when it ran or was
    /// skipped with a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrialSummary {
    pub ran: bool,
    pub summary: String,
    #[serde(default)]
    pub rounds: Vec<TrialRound>,
    /// What it could not fix.
    #[serde(default)]
    pub unresolved: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrialRound {
    pub round: u32,
    pub answered: bool,
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostSection {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub packages_count: usize,
    pub cpu_level: u8,
    /// Where the build read file contents: `/` (the live host), a bundle or a mounted disk.
    pub root: String,
    pub snapshot: String,
    pub collected_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppSection {
    pub name: String,
    pub analyzer: String,
    pub version: String,
    pub unit: String,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub ports: Vec<String>,
    pub listen: Vec<String>,
    pub entrypoint: String,
    pub workdir: String,
    pub network: String,
    pub stop_signal: String,
    pub restart: String,
    pub processes: Vec<ProcessRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessRow {
    pub pid: i32,
    pub user: String,
    pub cmdline: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FitSection {
    /// `good`, `partial` or `poor`.
    pub level: String,
    pub summary: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageSection {
    pub name: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    pub layer_bytes: u64,
    pub layer_human: String,
    pub content_bytes: u64,
    pub content_human: String,
    pub entries: usize,
    pub created: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilesSection {
    /// Files the plan takes from the host (generated files and links are counted apart).
    pub total: usize,
    pub total_human: String,
    pub groups: Vec<RoleGroup>,
    pub generated: Vec<GeneratedRow>,
    pub links: Vec<LinkRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoleGroup {
    pub role: String,
    pub title: String,
    pub description: String,
    pub count: usize,
    pub bytes: u64,
    pub human: String,
    pub files: Vec<FileRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRow {
    pub path: String,
    pub why: Vec<String>,
    /// `observed`, `declared` or `guessed`: how sure the surest reason is.
    pub confidence: crate::plan::Confidence,
    /// The owning package, empty when no package owns it.
    pub package: String,
    pub bytes: u64,
    pub human: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratedRow {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkRow {
    pub path: String,
    pub target: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SizeSection {
    /// Installed size (dpkg) of every package the app's files come from.
    pub host_packages_bytes: u64,
    pub host_packages_human: String,
    pub packages_count: usize,
    /// Bytes of the image's files from packages, and from nowhere a package owns.
    pub from_packages_human: String,
    pub outside_packages_human: String,
    /// "the image holds 38% of what its packages install", or why no ratio can be given.
    pub ratio: String,
    pub summary_chart: Chart,
    pub package_chart: Chart,
    pub packages: Vec<PackageRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PackageRow {
    pub name: String,
    pub version: String,
    pub installed_human: String,
    pub taken_human: String,
    pub files: usize,
    pub percent: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumesSection {
    pub total_human: String,
    pub rows: Vec<VolumeRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeRow {
    pub path: String,
    /// `volume` or `tmpfs`.
    pub kind: String,
    /// `out/<app>/volumes/<name>`, or empty for a tmpfs.
    pub source: String,
    pub populated: bool,
    pub bytes: u64,
    pub human: String,
    pub why: String,
    /// Set when the application was writing here as it was analyzed: who, and what to do.
    pub live_writes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretRow {
    pub path: String,
    pub kind: String,
    pub why: String,
    /// Never the value: where it is and how the image gets it.
    pub handling: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvSection {
    pub kept: Vec<EnvKept>,
    pub dropped: Vec<EnvDropped>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvKept {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvDropped {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FindingsSection {
    pub total: usize,
    /// Error-level findings: what blocks a faithful lift.
    pub blockers: Vec<FindingRow>,
    /// What liftkit could not read on the host.
    pub unreadable: Vec<FindingRow>,
    /// What liftkit inferred rather than knew.
    pub guessed: Vec<FindingRow>,
    /// Everything else worth a look.
    pub notes: Vec<FindingRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FindingRow {
    pub level: String,
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunSection {
    pub app_dir: String,
    pub run_sh: String,
    pub podman: Vec<String>,
    pub docker: Vec<String>,
    pub linuxkit: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifySummary {
    pub passed: bool,
    pub summary: String,
    #[serde(default)]
    pub checks: Vec<VerifyCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyCheck {
    pub name: String,
    pub passed: bool,
    #[serde(default)]
    pub detail: String,
}

impl Report {
    pub fn new(inp: &Inputs) -> Report {
        let files = sizes::file_sizes(inp.app, inp.host);
        Report {
            schema: SCHEMA_VERSION,
            liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
            host: host_section(inp),
            app: app_section(inp),
            fit: fit_section(inp),
            image: image_section(inp),
            files: files_section(inp, &files),
            sizes: sizes::size_section(inp.app, inp.built, &files),
            volumes: volumes_section(inp),
            secrets: secrets(inp),
            env: env_section(inp),
            findings: findings::section(inp.app, inp.built),
            run: run_section(inp),
            hardening: super::hardening::section(inp.app),
            verify: None,
            trial: None,
        }
    }
}

fn host_section(inp: &Inputs) -> HostSection {
    let s = &inp.plan.source;
    let snap = inp.snapshot;
    HostSection {
        hostname: s.hostname.clone(),
        os: s.os.clone(),
        kernel: s.kernel.clone(),
        arch: snap.map_or_else(String::new, |s| s.host.arch.clone()),
        packages_count: s.packages_count,
        cpu_level: s.cpu_level,
        root: s.root.clone(),
        snapshot: s.snapshot.clone(),
        collected_at: snap.map_or_else(String::new, |s| s.collected_at.clone()),
    }
}

fn app_section(inp: &Inputs) -> AppSection {
    let a = inp.app;
    let img = &a.image;
    AppSection {
        name: a.name.clone(),
        analyzer: a.analyzer.clone(),
        version: a.version.clone(),
        unit: a.unit.clone().unwrap_or_default(),
        user: img.user.clone(),
        uid: img.uid,
        gid: img.gid,
        ports: img.ports.clone(),
        listen: img.listen.clone(),
        entrypoint: shell_join(img.entrypoint.iter().chain(&img.cmd)),
        workdir: img.workdir.clone(),
        network: img.network.clone(),
        stop_signal: img.stop_signal.clone().unwrap_or_default(),
        restart: img.restart.clone().unwrap_or_default(),
        processes: a
            .processes
            .iter()
            .map(|p| ProcessRow {
                pid: p.pid,
                user: p.user.clone(),
                cmdline: p.cmdline.join(" "),
            })
            .collect(),
    }
}

fn fit_section(inp: &Inputs) -> FitSection {
    let (level, summary) = match inp.app.fit {
        Fit::Good => (
            "good",
            "lifts as is: an analyzer knows it and nothing blocks",
        ),
        Fit::Partial => (
            "partial",
            "lifts, with findings to review or from runtime evidence alone",
        ),
        Fit::Poor => ("poor", "something blocks a faithful lift"),
    };
    FitSection {
        level: level.to_string(),
        summary: summary.to_string(),
        reasons: inp.app.fit_reasons.clone(),
    }
}

fn image_section(inp: &Inputs) -> ImageSection {
    let b = inp.built;
    ImageSection {
        name: b.image.clone(),
        manifest_digest: b.manifest_digest.clone(),
        config_digest: b.config_digest.clone(),
        layer_digest: b.layer_digest.clone(),
        layer_bytes: b.layer_bytes,
        layer_human: human_bytes(b.layer_bytes),
        content_bytes: b.content_bytes,
        content_human: human_bytes(b.content_bytes),
        entries: b.entries,
        created: crate::timefmt::rfc3339(b.created.max(0) as u64),
    }
}

const ROLES: [(Role, &str, &str, &str); 5] = [
    (
        Role::Code,
        "code",
        "Code",
        "Executables and the libraries they load",
    ),
    (
        Role::Config,
        "config",
        "Configuration",
        "What the application and its libraries read at start",
    ),
    (
        Role::State,
        "state",
        "State and data",
        "What the application writes and keeps",
    ),
    (
        Role::Log,
        "log",
        "Logs",
        "Log files, usually redirected to the container's output",
    ),
    (
        Role::Secret,
        "secret",
        "Secrets",
        "Keys and passwords: mounted at run time, not baked in",
    ),
];

/// Files by role, each real file once under the path the image stores it at: a merged-/usr
/// host reaches a library as `/lib/…` and `/usr/lib/…`, the image holds `/usr/lib/…` and the
/// link, and so does the report (the other name is listed with the links).
fn files_section(inp: &Inputs, sizes: &sizes::FileSizes) -> FilesSection {
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut aliases: Vec<LinkRow> = Vec::new();
    let mut groups: Vec<RoleGroup> = Vec::new();
    for (role, id, title, description) in ROLES.iter() {
        let mut files: Vec<FileRow> = Vec::new();
        for f in inp.app.files.iter().filter(|f| f.role == *role) {
            let real = sizes.real(&f.path);
            if real != f.path {
                aliases.push(alias_row(&f.path, &real, sizes));
            }
            if let Some(&(g, i)) = seen.get(&real) {
                let row = match groups.get_mut(g) {
                    Some(group) => &mut group.files[i],
                    None => &mut files[i],
                };
                for why in &f.why {
                    if !row.why.contains(why) {
                        row.why.push(why.clone());
                    }
                }
                row.confidence = row.confidence.min(f.confidence);
                continue;
            }
            seen.insert(real.clone(), (groups.len(), files.len()));
            let bytes = sizes.of(&f.path);
            files.push(FileRow {
                path: real,
                why: f.why.clone(),
                confidence: f.confidence,
                package: f.package.clone().unwrap_or_default(),
                bytes,
                human: human_bytes(bytes),
            });
        }
        if files.is_empty() {
            continue;
        }
        let bytes = files.iter().map(|f| f.bytes).sum();
        groups.push(RoleGroup {
            role: id.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            count: files.len(),
            bytes,
            human: human_bytes(bytes),
            files,
        });
    }
    let total = groups.iter().map(|g| g.count).sum();
    let total_bytes: u64 = groups.iter().map(|g| g.bytes).sum();
    let mut links: Vec<LinkRow> = inp
        .app
        .links
        .iter()
        .map(|l| LinkRow {
            path: l.path.clone(),
            target: l.target.clone(),
            why: l.why.clone(),
        })
        .collect();
    links.extend(aliases);
    links.sort_by(|a, b| a.path.cmp(&b.path));
    links.dedup_by(|a, b| a.path == b.path);
    FilesSection {
        total,
        total_human: human_bytes(total_bytes),
        groups,
        generated: inp
            .app
            .generated
            .iter()
            .map(|g| GeneratedRow {
                path: g.path.clone(),
                why: g.why.clone(),
            })
            .collect(),
        links,
    }
}

/// A planned name of a file the image stores elsewhere: reached through a link.
fn alias_row(path: &str, real: &str, sizes: &sizes::FileSizes) -> LinkRow {
    let through: Vec<String> = sizes
        .links_of(path)
        .iter()
        .map(|l| l.display().to_string())
        .collect();
    LinkRow {
        path: path.to_string(),
        target: real.to_string(),
        why: if through.is_empty() {
            "the same file: stored once, under the path it points to".to_string()
        } else {
            format!(
                "the same file, reached through {}: stored once, under the path it points to",
                through.join(", ")
            )
        },
    }
}

fn volumes_section(inp: &Inputs) -> VolumesSection {
    let app_dir = inp.app_dir.display().to_string();
    let rows: Vec<VolumeRow> = inp
        .app
        .volumes
        .iter()
        .map(|v| {
            let name = volume_name(&v.path);
            let (kind, source, bytes) = match v.kind {
                VolumeKind::Volume => (
                    "volume",
                    format!("{app_dir}/volumes/{name}"),
                    sizes::tree_bytes(&inp.volumes_dir.join(&name)),
                ),
                VolumeKind::Tmpfs => ("tmpfs", String::new(), 0),
            };
            VolumeRow {
                path: v.path.clone(),
                kind: kind.to_string(),
                source,
                populated: v.populate,
                bytes,
                human: human_bytes(bytes),
                why: v.why.clone(),
                live_writes: v.live_writes.clone().unwrap_or_default(),
            }
        })
        .collect();
    VolumesSection {
        total_human: human_bytes(rows.iter().map(|r| r.bytes).sum()),
        rows,
    }
}

fn secrets(inp: &Inputs) -> Vec<SecretRow> {
    let mounted = |path: &str| {
        format!(
            "value redacted; mounted read-only from {}/secrets/{}",
            inp.app_dir.display(),
            volume_name(path)
        )
    };
    let mut rows: Vec<SecretRow> = inp
        .app
        .secrets
        .iter()
        .map(|s| SecretRow {
            path: s.path.clone(),
            kind: s.kind.clone(),
            why: s.why.clone(),
            handling: mounted(&s.path),
        })
        .collect();
    for f in inp.app.files.iter().filter(|f| f.role == Role::Secret) {
        if rows.iter().any(|r| r.path == f.path) {
            continue;
        }
        rows.push(SecretRow {
            path: f.path.clone(),
            kind: "file".to_string(),
            why: f.why.join("; "),
            handling: if inp.secrets_in_image {
                "value redacted; baked into the image (--include-secrets)".to_string()
            } else {
                "value redacted; left out of the image".to_string()
            },
        });
    }
    rows
}

fn env_section(inp: &Inputs) -> EnvSection {
    let img = &inp.app.image;
    EnvSection {
        kept: img
            .env
            .iter()
            .map(|kv| {
                let (name, value) = kv.split_once('=').unwrap_or((kv, ""));
                EnvKept {
                    name: name.to_string(),
                    value: value.to_string(),
                }
            })
            .collect(),
        dropped: img
            .env_dropped
            .iter()
            .map(|(name, reason)| EnvDropped {
                name: name.clone(),
                reason: reason.clone(),
            })
            .collect(),
    }
}

fn run_section(inp: &Inputs) -> RunSection {
    let dir = inp.app_dir.display().to_string();
    let engine_steps = |engine: &str| {
        vec![
            format!("{engine} load -i {dir}/image.tar"),
            run_command(engine, inp),
        ]
    };
    RunSection {
        run_sh: format!("{dir}/run.sh"),
        podman: engine_steps("podman"),
        docker: engine_steps("docker"),
        linuxkit: vec![
            format!("linuxkit cache import {dir}/image.tar"),
            format!("linuxkit build -format kernel+initrd {dir}/linuxkit.yml"),
        ],
        app_dir: dir,
    }
}

/// The `run` line run.sh executes, spelled out (bind mounts need absolute paths, hence `$PWD`
/// before a relative output directory).
fn run_command(engine: &str, inp: &Inputs) -> String {
    let app = inp.app;
    let dir = if inp.app_dir.is_absolute() {
        inp.app_dir.display().to_string()
    } else {
        format!("$PWD/{}", inp.app_dir.display())
    };
    let mut words: Vec<String> = vec![
        engine.to_string(),
        "run".to_string(),
        "--rm".to_string(),
        format!("--name liftkit-{}", app.slug()),
        format!("--network {}", app.image.network),
    ];
    if let Some(sig) = &app.image.stop_signal {
        words.push(format!("--stop-signal {sig}"));
    }
    words.extend(crate::harden::engine_flags(app));
    if app.hardening.read_only && engine == "podman" {
        words.push("--read-only-tmpfs=false".to_string());
    }
    if app.hardening.seccomp {
        words.push(format!("--security-opt=seccomp={dir}/seccomp.json"));
    }
    for v in &app.volumes {
        words.push(match v.kind {
            VolumeKind::Volume => format!("-v {dir}/volumes/{}:{}", volume_name(&v.path), v.path),
            VolumeKind::Tmpfs => format!("--tmpfs {}", v.path),
        });
    }
    for s in &app.secrets {
        words.push(format!(
            "-v {dir}/secrets/{}:{}:ro",
            volume_name(&s.path),
            s.path
        ));
    }
    words.push(app.image.name.clone());
    words.join(" ")
}
