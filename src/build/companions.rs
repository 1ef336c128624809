//! What users of containers expect beside an image: a Dockerfile that rebuilds it from its own
//! layer, a compose file and a Kubernetes manifest that run it as run.sh does. Each reads only
//! the plan (and the layer's digest) and is written whole.

use crate::plan::{volume_name, AppPlan, VolumeKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// `Dockerfile`: `FROM scratch` plus the very layer liftkit built, so `docker build` gives the
/// same file tree without pulling anything.
pub fn dockerfile(app: &AppPlan, layer_digest: &str) -> String {
    let img = &app.image;
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let mut out = format!(
        "# Rebuilds the lifted {name} image from its own layer (no base image, nothing pulled).\n\
         FROM scratch\nADD oci/blobs/sha256/{layer} /\n",
        name = app.name,
        layer = layer_digest.trim_start_matches("sha256:"),
    );
    for kv in &img.env {
        out.push_str(&format!("ENV {}\n", shell_env(kv)));
    }
    for p in &img.ports {
        out.push_str(&format!("EXPOSE {p}\n"));
    }
    for v in app.volumes.iter().filter(|v| v.kind == VolumeKind::Volume) {
        out.push_str(&format!("VOLUME {}\n", json(std::slice::from_ref(&v.path))));
    }
    out.push_str(&format!(
        "WORKDIR {}\nUSER {}:{}\n",
        img.workdir, img.uid, img.gid
    ));
    if let Some(s) = &img.stop_signal {
        out.push_str(&format!("STOPSIGNAL {s}\n"));
    }
    out.push_str(&format!("ENTRYPOINT {}\n", json(&img.entrypoint)));
    if !img.cmd.is_empty() {
        out.push_str(&format!("CMD {}\n", json(&img.cmd)));
    }
    out
}

fn shell_env(kv: &str) -> String {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    format!("{k}={}", serde_json::to_string(v).unwrap_or_default())
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

/// `compose.yaml` (the current Compose specification: no `version:` key).
pub fn compose(app: &AppPlan, secrets_baked: bool) -> String {
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
    format!(
        "# Runs the lifted {} as run.sh does: `podman compose up` or `docker compose up` here.\n{}",
        app.name,
        serde_yaml_ng::to_string(&doc).unwrap_or_default()
    )
}

/// `kubernetes.yaml`: a Pod on the host's network (as the source ran), state on claims to be
/// filled from `volumes/`, scratch on memory-backed emptyDirs. `podman kube play` runs it.
pub fn kubernetes(app: &AppPlan) -> String {
    use serde_json::json;
    let img = &app.image;
    let slug = app.slug();
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    let mut claims = Vec::new();
    for v in &app.volumes {
        let name = volume_name(&v.path);
        mounts.push(json!({ "name": name, "mountPath": v.path }));
        match v.kind {
            VolumeKind::Volume => {
                let claim = format!("{slug}-{name}");
                volumes
                    .push(json!({ "name": name, "persistentVolumeClaim": { "claimName": claim } }));
                claims.push(json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": { "name": claim, "annotations": { "io.liftkit/populate-from": format!("volumes/{name}") } },
                    "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } },
                }));
            }
            VolumeKind::Tmpfs => {
                volumes.push(json!({ "name": name, "emptyDir": { "medium": "Memory" } }))
            }
        }
    }
    let env: Vec<_> = img
        .env
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            json!({ "name": k, "value": v })
        })
        .collect();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": slug, "labels": { "app.kubernetes.io/name": slug, "app.kubernetes.io/managed-by": "liftkit" } },
        "spec": {
            "hostNetwork": img.network == "host",
            "restartPolicy": match img.restart.as_deref() { Some("always") => "Always", Some("no") => "Never", _ => "OnFailure" },
            "containers": [{
                "name": slug,
                "image": img.name,
                "command": img.entrypoint,
                "args": img.cmd,
                "workingDir": img.workdir,
                "env": env,
                "securityContext": { "runAsUser": img.uid, "runAsGroup": img.gid },
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        },
    });
    let mut out = format!(
        "# The lifted {} as a Kubernetes Pod; `podman kube play` runs it too.\n",
        app.name
    );
    for doc in claims.iter().chain(std::iter::once(&pod)) {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(doc).unwrap_or_default());
    }
    out
}
