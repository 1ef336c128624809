//! `kubernetes.yaml`: the image as a Kubernetes workload.

use super::{AppBuild, BuildError, Context};
use crate::plan::{volume_name, AppPlan, VolumeKind};

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let text = kubernetes(cx.app).map_err(cx.encode("kubernetes.yaml"))?;
    cx.write("kubernetes.yaml", &text)
}

/// `kubernetes.yaml`: a Pod on the host's network (as the source ran), state on claims to be
/// filled from `volumes/`, scratch on memory-backed emptyDirs. `podman kube play` runs it.
fn kubernetes(app: &AppPlan) -> Result<String, String> {
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
                "command": img.launch(),
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
        out.push_str(&serde_yaml_ng::to_string(doc).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
