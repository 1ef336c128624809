//! `compose.yaml`: runs the image as run.sh does (the current Compose specification: no
//! `version:` key), with named volumes filled from `volumes/`, secrets as Compose secrets, and a
//! health check from the analyzer's probes.
//!
//! The health check runs `liftkit-probe` (liftkit-init's `probe`, written beside this file)
//! mounted into the container: the lifted image has no shell or tool of its own to check with.

use super::{AppBuild, BuildError, Context};
use crate::plan::{volume_name, AppPlan, VolumeKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// The static prober beside compose.yaml, and where the container sees it.
pub const PROBE_FILE: &str = "liftkit-probe";
const PROBE_IN_CONTAINER: &str = "/run/liftkit/probe";

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let health = healthcheck(cx.app);
    if health.is_some() {
        use std::os::unix::fs::PermissionsExt;
        let path = cx.dir.join(PROBE_FILE);
        std::fs::write(&path, crate::hostimage::init::BINARY).map_err(cx.io(PROBE_FILE))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(cx.io(PROBE_FILE))?;
    }
    let text =
        compose(cx.app, cx.opts.include_secrets, health).map_err(cx.encode("compose.yaml"))?;
    cx.write("compose.yaml", &text)
}

#[derive(Serialize)]
struct Compose {
    name: String,
    services: BTreeMap<String, ComposeService>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, NamedVolume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretFile>,
}

#[derive(Serialize)]
struct ComposeService {
    image: String,
    network_mode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<ServiceSecret>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    ulimits: BTreeMap<String, Ulimit>,
    /// The plan's hardening, as run.sh applies it (see `crate::harden::engine_flags`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_opt: Vec<String>,
}

/// `no-new-privileges`, and the app's own system call profile when the plan opts in (the file
/// the trial wrote beside this one).
fn security_opt(app: &AppPlan) -> Vec<String> {
    let mut opts = Vec::new();
    if app.hardening.no_new_privileges {
        opts.push("no-new-privileges:true".to_string());
    }
    if app.hardening.seccomp && !app.hardening.syscalls.is_empty() {
        opts.push(format!("seccomp=./{}", crate::harden::PROFILE_FILE));
    }
    opts
}

/// A named volume whose content is the lifted data: a local bind of `volumes/<name>`, as
/// run.sh mounts it, under a name `docker volume ls` shows. Compose is run from this directory
/// (`$PWD`), as the file's first line says.
#[derive(Serialize)]
struct NamedVolume {
    driver: String,
    driver_opts: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct SecretFile {
    file: String,
}

#[derive(Serialize)]
struct ServiceSecret {
    source: String,
    target: String,
    mode: String,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

#[derive(Serialize)]
struct Ulimit {
    soft: u64,
    hard: u64,
}

/// The health check: the first HTTP probe that expects a page (not the missing-page probe),
/// else a TCP connect to the first TCP port; on the address the app listens on.
fn healthcheck(app: &AppPlan) -> Option<Healthcheck> {
    let port = app
        .image
        .ports
        .iter()
        .find_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse::<u16>().ok()))?;
    let target = app
        .image
        .listen
        .iter()
        .filter_map(|l| l.strip_suffix("/tcp"))
        .find(|a| {
            a.ends_with(&format!(":{port}")) && !a.starts_with("0.0.0.0") && !a.starts_with("[::]")
        })
        .map_or_else(|| port.to_string(), str::to_string);
    let http = app.probes.iter().find_map(|p| {
        let (method, path) = p.http.as_deref()?.split_once(' ')?;
        (method == "GET" && !path.contains("missing")).then(|| path.to_string())
    });
    let mut test = vec![
        "CMD".to_string(),
        PROBE_IN_CONTAINER.to_string(),
        "probe".to_string(),
    ];
    match http {
        Some(path) => test.extend(["http".to_string(), target, path]),
        None => test.extend(["tcp".to_string(), target]),
    }
    Some(Healthcheck {
        test,
        interval: "10s".to_string(),
        timeout: "5s".to_string(),
        retries: 3,
        start_period: "30s".to_string(),
    })
}

fn compose(
    app: &AppPlan,
    secrets_baked: bool,
    healthcheck: Option<Healthcheck>,
) -> Result<String, String> {
    let img = &app.image;
    let slug = app.slug();
    let mut volumes = Vec::new();
    let mut named = BTreeMap::new();
    let mut tmpfs = Vec::new();
    for v in &app.volumes {
        let name = volume_name(&v.path);
        match v.kind {
            VolumeKind::Volume => {
                volumes.push(format!("{name}:{}", v.path));
                named.insert(
                    name.clone(),
                    NamedVolume {
                        driver: "local".to_string(),
                        driver_opts: BTreeMap::from([
                            ("type".to_string(), "none".to_string()),
                            ("o".to_string(), "bind".to_string()),
                            // A bind needs an absolute path: Compose runs in this directory.
                            ("device".to_string(), format!("${{PWD}}/volumes/{name}")),
                        ]),
                    },
                );
            }
            VolumeKind::Tmpfs => tmpfs.push(v.path.clone()),
        }
    }
    let mut env_file = Vec::new();
    let mut secrets = BTreeMap::new();
    let mut service_secrets = Vec::new();
    if !secrets_baked {
        for s in &app.secrets {
            if s.path.starts_with("env:") {
                if env_file.is_empty() {
                    env_file.push(format!("./secrets/{}", super::secrets::ENV_FILE));
                }
                continue;
            }
            let name = volume_name(&s.path);
            secrets.insert(
                name.clone(),
                SecretFile {
                    file: format!("./secrets/{name}"),
                },
            );
            service_secrets.push(ServiceSecret {
                source: name,
                target: s.path.clone(),
                mode: "0400".to_string(),
            });
        }
    }
    if healthcheck.is_some() {
        volumes.push(format!("./{PROBE_FILE}:{PROBE_IN_CONTAINER}:ro"));
    }
    let ulimits = img
        .rlimits
        .iter()
        .filter(|(_, (soft, hard))| *soft != u64::MAX && *hard != u64::MAX)
        .map(|(k, (soft, hard))| {
            (
                k.clone(),
                Ulimit {
                    soft: *soft,
                    hard: *hard,
                },
            )
        })
        .collect();
    let service = ComposeService {
        image: img.name.clone(),
        network_mode: img.network.clone(),
        volumes,
        tmpfs,
        secrets: service_secrets,
        env_file,
        healthcheck,
        stop_signal: img.stop_signal.clone(),
        restart: img.restart.clone(),
        ulimits,
        read_only: app.hardening.read_only,
        cap_drop: match app.hardening.kept() {
            Some(_) => vec!["ALL".to_string()],
            None => Vec::new(),
        },
        cap_add: app.hardening.kept().unwrap_or_default(),
        security_opt: security_opt(app),
    };
    let doc = Compose {
        name: format!("liftkit-{slug}"),
        services: BTreeMap::from([(slug, service)]),
        volumes: named,
        secrets,
    };
    let yaml = serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Runs the lifted {} as run.sh does: `podman compose up` or `docker compose up` here.\n{yaml}",
        app.name,
    ))
}
