//! `compose.yaml`: runs the image as run.sh does (the current Compose specification: no
//! `version:` key).

use super::{AppBuild, BuildError, Context};
use crate::plan::{volume_name, AppPlan, VolumeKind};
use serde::Serialize;
use std::collections::BTreeMap;

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let text = compose(cx.app, cx.opts.include_secrets).map_err(cx.encode("compose.yaml"))?;
    cx.write("compose.yaml", &text)
}

#[derive(Serialize)]
struct Compose {
    name: String,
    services: BTreeMap<String, ComposeService>,
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
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    ulimits: BTreeMap<String, Ulimit>,
}

#[derive(Serialize)]
struct Ulimit {
    soft: u64,
    hard: u64,
}

fn compose(app: &AppPlan, secrets_baked: bool) -> Result<String, String> {
    let img = &app.image;
    let mut volumes = Vec::new();
    let mut tmpfs = Vec::new();
    for v in &app.volumes {
        match v.kind {
            VolumeKind::Volume => {
                volumes.push(format!("./volumes/{}:{}", volume_name(&v.path), v.path))
            }
            VolumeKind::Tmpfs => tmpfs.push(v.path.clone()),
        }
    }
    let mut env_file = Vec::new();
    if !secrets_baked {
        for s in &app.secrets {
            if s.path.starts_with("env:") {
                if env_file.is_empty() {
                    env_file.push(format!("./secrets/{}", super::secrets::ENV_FILE));
                }
            } else {
                volumes.push(format!("./secrets/{}:{}:ro", volume_name(&s.path), s.path));
            }
        }
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
        env_file,
        stop_signal: img.stop_signal.clone(),
        restart: img.restart.clone(),
        ulimits,
    };
    let doc = Compose {
        name: format!("liftkit-{}", app.slug()),
        services: BTreeMap::from([(app.slug(), service)]),
    };
    let yaml = serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Runs the lifted {} as run.sh does: `podman compose up` or `docker compose up` here.\n{yaml}",
        app.name,
    ))
}
