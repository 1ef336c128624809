//! The workload: a Deployment, or a StatefulSet when the app keeps state in volumes, whose pod
//! runs the image as run.sh does (same command, user, environment, volumes and secrets), with
//! probes, resources and an init container that fills new volumes with the lifted data.

use super::{data_image, dns_label, security, Names};
use crate::plan::{volume_name, AppPlan, Probe, VolumeKind};
use serde_json::{json, Map, Value};

/// Size of a claim when the data is small: room to grow, in the unit clusters provision in.
const MIN_CLAIM_GIB: u64 = 1;

pub struct Workload {
    pub kind: &'static str,
    pub doc: Value,
}

/// `volume_bytes`: the populated size of each volume by path, to size its claim.
pub fn workload(
    app: &AppPlan,
    names: &Names,
    volume_bytes: &dyn Fn(&str) -> u64,
    secrets: &super::SecretParts,
) -> Workload {
    let stateful = app.volumes.iter().any(|v| kept(&v));
    let labels = names.selector();
    let mut spec = Map::new();
    spec.insert("replicas".into(), json!(1));
    spec.insert("selector".into(), json!({ "matchLabels": labels }));
    let pod = pod_template(app, names, secrets);
    spec.insert("template".into(), pod);
    let kind = if stateful {
        spec.insert("serviceName".into(), json!(names.app));
        spec.insert(
            "volumeClaimTemplates".into(),
            Value::Array(claim_templates(app, volume_bytes)),
        );
        "StatefulSet"
    } else {
        "Deployment"
    };
    let doc = json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": { "name": names.app, "labels": names.labels() },
        "spec": Value::Object(spec),
    });
    Workload { kind, doc }
}

/// A volume whose content must outlive the pod: a claim. A scratch one (the image's files and a
/// pid file) is an `emptyDir` the init container fills at every start.
fn kept(v: &&crate::plan::Volume) -> bool {
    v.kind == VolumeKind::Volume && !v.scratch
}

fn claim_templates(app: &AppPlan, volume_bytes: &dyn Fn(&str) -> u64) -> Vec<Value> {
    app.volumes
        .iter()
        .filter(kept)
        .map(|v| {
            let bytes = volume_bytes(&v.path);
            // Twice the lifted data, rounded up to whole GiB: the app keeps writing.
            let gib = (bytes.saturating_mul(2)).div_ceil(1 << 30).max(MIN_CLAIM_GIB);
            json!({
                "metadata": {
                    "name": dns_label(&volume_name(&v.path)),
                    "annotations": {
                        "liftkit.io/path": v.path,
                        "liftkit.io/size": format!("{gib}Gi: twice the {bytes} bytes lifted, at least {MIN_CLAIM_GIB}Gi"),
                    },
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": format!("{gib}Gi") } },
                },
            })
        })
        .collect()
}

fn pod_template(app: &AppPlan, names: &Names, secrets: &super::SecretParts) -> Value {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for v in &app.volumes {
        let name = dns_label(&volume_name(&v.path));
        mounts.push(json!({ "name": name, "mountPath": v.path }));
        if v.kind == VolumeKind::Tmpfs {
            volumes.push(json!({ "name": name, "emptyDir": { "medium": "Memory" } }));
        } else if v.scratch {
            volumes.push(json!({ "name": name, "emptyDir": {} }));
        }
        // Kept volumes are the StatefulSet's claims, named after their template.
    }
    if let Some(files) = &secrets.files {
        for (path, key) in &files.items {
            mounts.push(
                json!({ "name": "secrets", "mountPath": path, "subPath": key, "readOnly": true }),
            );
        }
        let items: Vec<Value> = files
            .items
            .iter()
            .map(|(_, key)| json!({ "key": key, "path": key, "mode": files.mode }))
            .collect();
        // `optional: false` spelled out: Kubernetes' default, which podman 4.3 needs written.
        volumes.push(json!({
            "name": "secrets",
            "secret": { "secretName": files.name, "items": items, "optional": false },
        }));
    }
    if let Some(cm) = &secrets.config {
        for (path, key) in &cm.items {
            mounts.push(json!({ "name": "per-environment", "mountPath": path, "subPath": key, "readOnly": true }));
        }
        volumes.push(json!({
            "name": "per-environment",
            "configMap": { "name": cm.name, "optional": false },
        }));
    }
    let mut container = Map::new();
    container.insert("name".into(), json!(names.app));
    container.insert("image".into(), json!(app.image.name));
    container.insert("imagePullPolicy".into(), json!("IfNotPresent"));
    container.insert("command".into(), json!(app.image.launch()));
    if !app.image.cmd.is_empty() {
        container.insert("args".into(), json!(app.image.cmd));
    }
    container.insert("workingDir".into(), json!(app.image.workdir));
    let env: Vec<Value> = app
        .image
        .env
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            json!({ "name": k, "value": v })
        })
        .collect();
    if !env.is_empty() {
        container.insert("env".into(), Value::Array(env));
    }
    if let Some(name) = &secrets.env {
        container.insert(
            "envFrom".into(),
            json!([{ "secretRef": { "name": name, "optional": false } }]),
        );
    }
    let ports = container_ports(app);
    if !ports.is_empty() {
        container.insert("ports".into(), Value::Array(ports));
    }
    if let Some((readiness, liveness)) = probes(app) {
        container.insert("readinessProbe".into(), readiness);
        container.insert("livenessProbe".into(), liveness);
    }
    if let Some(r) = &app.deploy.resources {
        container.insert(
            "resources".into(),
            json!({
                "requests": { "cpu": r.cpu_request, "memory": r.memory_request },
                "limits": { "cpu": r.cpu_limit, "memory": r.memory_limit },
            }),
        );
    }
    container.insert("securityContext".into(), security::app_container(app));
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts));
    }
    let mut spec = Map::new();
    if app.deploy.host_network {
        spec.insert("hostNetwork".into(), json!(true));
        spec.insert("dnsPolicy".into(), json!("ClusterFirstWithHostNet"));
    }
    if let Some(files) = &secrets.files {
        if let Some(gid) = files.fs_group {
            spec.insert(
                "securityContext".into(),
                json!({ "fsGroup": gid, "fsGroupChangePolicy": "OnRootMismatch" }),
            );
        }
    }
    let init = init_containers(app);
    if !init.is_empty() {
        spec.insert("initContainers".into(), Value::Array(init.clone()));
    }
    spec.insert("containers".into(), json!([Value::Object(container)]));
    if !volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(volumes));
    }
    // As the source's service manager stopped it: the image's STOPSIGNAL, then this long.
    spec.insert("terminationGracePeriodSeconds".into(), json!(30));
    let mut annotations = Map::new();
    if !init.is_empty() {
        // podman kube play removes a "once" init container before it has exited (4.3); an
        // "always" one runs at every start, which `populate` allows: it fills empty volumes only.
        annotations.insert(
            "io.podman.annotations.init.container.type".into(),
            json!("always"),
        );
    }
    if let Some(r) = &app.deploy.resources {
        annotations.insert("liftkit.io/resources".into(), json!(r.why));
    }
    json!({
        "metadata": { "labels": names.labels(), "annotations": Value::Object(annotations) },
        "spec": Value::Object(spec),
    })
}

/// One init container per populated volume: the data image's copier fills the claim if empty.
fn init_containers(app: &AppPlan) -> Vec<Value> {
    data_image::volumes(app)
        .into_iter()
        .map(|v| {
            let name = dns_label(&volume_name(&v.path));
            json!({
                "name": format!("populate-{name}"),
                "image": data_image::name(app),
                "imagePullPolicy": "IfNotPresent",
                "command": [
                    data_image::POPULATE,
                    "populate",
                    format!("{}/{}", data_image::DATA_DIR, volume_name(&v.path)),
                    "/volume",
                ],
                "securityContext": security::populate_container(),
                "volumeMounts": [{ "name": name, "mountPath": "/volume" }],
            })
        })
        .collect()
}

/// `8080/tcp` → a named container port.
pub fn ports(app: &AppPlan) -> Vec<(u16, &'static str)> {
    app.image
        .ports
        .iter()
        .filter_map(|p| {
            let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let proto = if proto.eq_ignore_ascii_case("udp") {
                "UDP"
            } else {
                "TCP"
            };
            Some((n.parse().ok()?, proto))
        })
        .collect()
}

pub fn port_name(port: u16, proto: &str) -> String {
    format!("{}-{port}", proto.to_ascii_lowercase())
}

fn container_ports(app: &AppPlan) -> Vec<Value> {
    ports(app)
        .into_iter()
        .map(|(port, proto)| {
            json!({ "name": port_name(port, proto), "containerPort": port, "protocol": proto })
        })
        .collect()
}

/// Readiness from the plan's first HTTP probe (the page answers), else a TCP connect; liveness
/// is always the TCP connect, so a page that changes never restarts the app.
fn probes(app: &AppPlan) -> Option<(Value, Value)> {
    let (port, _) = ports(app).into_iter().find(|(_, p)| *p == "TCP")?;
    let tcp = json!({ "tcpSocket": { "port": port } });
    let http = app.probes.iter().find_map(|p: &Probe| {
        let (method, path) = p.http.as_deref()?.split_once(' ')?;
        (method == "GET" && !path.contains("missing")).then(|| path.to_string())
    });
    let mut readiness = match http {
        Some(path) => json!({ "httpGet": { "path": path, "port": port } }),
        None => tcp.clone(),
    };
    readiness["periodSeconds"] = json!(5);
    readiness["failureThreshold"] = json!(3);
    let mut liveness = tcp;
    // A database replaying its log answers late: give the start room before liveness counts.
    liveness["initialDelaySeconds"] = json!(30);
    liveness["periodSeconds"] = json!(20);
    liveness["failureThreshold"] = json!(3);
    Some((readiness, liveness))
}
