//! `kubernetes/`: the app as a platform team deploys it, one manifest per kind and a
//! `kustomization.yaml` naming them (`kubectl apply -k kubernetes/`).
//!
//! - `deployment.yaml`, or `statefulset.yaml` with `volumeClaimTemplates` when the app keeps
//!   state; its pod runs the image as run.sh does, with probes, resources sized from what the
//!   original used, and an init container filling new claims (and the `emptyDir` of a scratch
//!   volume, at every start) from `data-image/image.tar`;
//! - `service.yaml`: the app's ports on the cluster's network (`hostNetwork` only when the
//!   plan's `deploy.host_network` says so);
//! - `secret.yaml` (0600): the values of `secrets/`, mounted where the app reads them;
//! - `configmap.yaml`: the files the plan's `deploy.per_environment` names.

pub mod data_image;
mod security;
mod workload;

use super::{AppBuild, BuildError, Context};
use crate::findings::Finding;
use crate::host::Host as _;
use crate::plan::{volume_name, AppPlan};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub const DIR: &str = "kubernetes";

/// The names every manifest shares.
pub struct Names {
    pub app: String,
}

impl Names {
    fn new(app: &AppPlan) -> Self {
        Names {
            app: dns_label(&app.slug()),
        }
    }

    /// What selects the app's pods.
    pub fn selector(&self) -> Value {
        json!({ "app.kubernetes.io/name": self.app })
    }

    pub fn labels(&self) -> Value {
        json!({ "app.kubernetes.io/name": self.app, "app.kubernetes.io/managed-by": "liftkit" })
    }
}

/// The Secrets and ConfigMap the pod mounts, by name.
#[derive(Default)]
pub struct SecretParts {
    pub files: Option<FileSecret>,
    /// The Secret passed as environment (`envFrom`).
    pub env: Option<String>,
    pub config: Option<ConfigFiles>,
}

pub struct FileSecret {
    pub name: String,
    /// (path the app reads, key in the Secret)
    pub items: Vec<(String, String)>,
    pub mode: u32,
    /// Group that must read the files when the app runs as a user other than their owner.
    pub fs_group: Option<u32>,
}

pub struct ConfigFiles {
    pub name: String,
    pub items: Vec<(String, String)>,
}

pub fn write(cx: &Context, record: &mut AppBuild) -> Result<(), BuildError> {
    let dir = cx.dir.join(DIR);
    std::fs::create_dir_all(&dir).map_err(cx.io(DIR))?;
    let names = Names::new(cx.app);
    let encode = |e: String| BuildError::Encode {
        app: cx.app.name.clone(),
        artifact: "kubernetes/",
        message: e,
    };
    let mut files: Vec<(String, String)> = Vec::new();
    let mut parts = SecretParts::default();

    if let Some((secret, env_secret, file_part)) =
        secrets(cx, &names, &mut record.findings).map_err(cx.io("secrets"))?
    {
        let mut text = String::from(
            "# The app's secrets, from secrets/ (this file is 0600: it holds their values).\n",
        );
        for doc in secret.iter().chain(env_secret.iter()) {
            text.push_str("---\n");
            text.push_str(&yaml(doc).map_err(encode)?);
        }
        write_private(&dir.join("secret.yaml"), &text).map_err(cx.io("kubernetes/secret.yaml"))?;
        parts.env = env_secret.map(|_| format!("{}-env", names.app));
        parts.files = file_part;
        files.push(("secret.yaml".into(), String::new()));
    }
    if let Some((doc, cm)) = config_map(cx, &names, &mut record.findings) {
        files.push((
            "configmap.yaml".into(),
            format!(
                "# Configuration people change per environment (the plan's deploy.per_environment).\n---\n{}",
                yaml(&doc).map_err(encode)?
            ),
        ));
        parts.config = Some(cm);
    }
    let sizes = volume_sizes(cx);
    let w = workload::workload(
        cx.app,
        &names,
        &|p| sizes.get(p).copied().unwrap_or(0),
        &parts,
    );
    let mut head = format!(
        "# The lifted {} as a {}: the image as run.sh runs it.\n",
        cx.app.name, w.kind
    );
    if let Some(r) = &cx.app.deploy.resources {
        head.push_str(&format!("# Resources: {}.\n", r.why));
    } else {
        head.push_str("# Resources: none set: the snapshot recorded no usage to size them from.\n");
    }
    if !data_image::volumes(cx.app).is_empty() {
        head.push_str(&format!(
            "# New claims are filled from {} ({}): see README.md.\n",
            data_image::FILE,
            data_image::name(cx.app)
        ));
    }
    files.push((
        format!("{}.yaml", w.kind.to_lowercase()),
        format!("{head}---\n{}", yaml(&w.doc).map_err(encode)?),
    ));
    if let Some(svc) = service(cx.app, &names, &mut record.findings) {
        files.push((
            "service.yaml".into(),
            format!(
                "# The app's ports on the cluster's network.\n---\n{}",
                yaml(&svc).map_err(encode)?
            ),
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, text) in &files {
        if !text.is_empty() {
            let path = format!("{DIR}/{name}");
            std::fs::write(dir.join(name), text).map_err(cx.io(&path))?;
        }
    }
    let resources: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    std::fs::write(
        dir.join("kustomization.yaml"),
        kustomization(cx.app, &resources),
    )
    .map_err(cx.io("kubernetes/kustomization.yaml"))?;
    std::fs::write(dir.join("README.md"), readme(cx.app, w.kind, &resources))
        .map_err(cx.io("kubernetes/README.md"))
}

fn yaml(doc: &Value) -> Result<String, String> {
    serde_yaml_ng::to_string(doc).map_err(|e| e.to_string())
}

/// A DNS-1123 label, as Kubernetes names and volume names must be: lowercase alphanumerics and
/// `-`, at most 63 characters.
pub fn dns_label(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut out = String::new();
    for c in mapped.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out: String = out.trim_matches('-').chars().take(63).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "app".to_string()
    } else {
        out
    }
}

/// The Service for the app's ports. An app that listens on loopback only cannot be reached
/// through it: said, with what to do.
fn service(app: &AppPlan, names: &Names, findings: &mut Vec<Finding>) -> Option<Value> {
    let ports = workload::ports(app);
    if ports.is_empty() {
        return None;
    }
    let loopback: Vec<&String> = app
        .image
        .listen
        .iter()
        .filter(|a| a.starts_with("127.") || a.starts_with("[::1]") || a.starts_with("::1"))
        .collect();
    // A note, not a warning: run.sh and compose run it on the host's network, where it works.
    if !app.deploy.host_network && !loopback.is_empty() {
        findings.push(Finding::info(
            format!("{DIR}/service.yaml"),
            format!(
                "{} listens on {} only: inside a pod that is unreachable through the Service; \
                 make it listen on all addresses in its configuration (deploy.per_environment \
                 offers the file as a ConfigMap), or set deploy.host_network in the plan",
                app.name,
                loopback
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let service_ports: Vec<Value> = ports
        .iter()
        .map(|(port, proto)| {
            json!({
                "name": workload::port_name(*port, proto),
                "port": port,
                "targetPort": workload::port_name(*port, proto),
                "protocol": proto,
            })
        })
        .collect();
    Some(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": names.app, "labels": names.labels() },
        "spec": { "type": "ClusterIP", "selector": names.selector(), "ports": service_ports },
    }))
}

type SecretDocs = (Option<Value>, Option<Value>, Option<FileSecret>);

/// The Secrets made from `secrets/`: one of files (mounted where the app reads each), one of
/// environment variables (`envFrom`). `None` when the app has none or they were baked.
fn secrets(
    cx: &Context,
    names: &Names,
    findings: &mut Vec<Finding>,
) -> std::io::Result<Option<SecretDocs>> {
    if cx.opts.include_secrets || cx.app.secrets.is_empty() {
        return Ok(None);
    }
    let secrets_dir = cx.dir.join("secrets");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut file_data = Map::new();
    let mut items = Vec::new();
    let mut fs_group = None;
    let mut env_data = Map::new();
    for s in &cx.app.secrets {
        if let Some(key) = s.path.strip_prefix("env:") {
            env_data.insert(key.to_string(), json!(""));
            continue;
        }
        let key = volume_name(&s.path);
        let file = secrets_dir.join(&key);
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                findings.push(Finding::warning(
                    &s.path,
                    format!("not in {DIR}/secret.yaml: secrets/{key}: {e}"),
                ));
                continue;
            }
        };
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(&file)?.uid();
        if owner != 0 && owner == cx.app.image.uid {
            fs_group = Some(cx.app.image.gid);
        }
        file_data.insert(key.clone(), json!(b64.encode(bytes)));
        items.push((s.path.clone(), key));
    }
    if !env_data.is_empty() {
        let env_file = secrets_dir.join(super::secrets::ENV_FILE);
        // Written by the secrets writer just before; missing, the Secret would lose its values silently.
        let text = std::fs::read_to_string(env_file)?;
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                env_data.insert(k.to_string(), json!(b64.encode(v)));
            }
        }
    }
    let doc = |name: String, data: Map<String, Value>| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": name, "labels": names.labels() },
            "type": "Opaque",
            "data": Value::Object(data),
        })
    };
    let files = (!file_data.is_empty()).then(|| doc(format!("{}-files", names.app), file_data));
    let env = (!env_data.is_empty()).then(|| doc(format!("{}-env", names.app), env_data));
    let part = files.as_ref().map(|_| FileSecret {
        name: format!("{}-files", names.app),
        items,
        // Readable by the app's group when it owns them, else by their owner, root.
        mode: if fs_group.is_some() { 0o440 } else { 0o400 },
        fs_group,
    });
    Ok(Some((files, env, part)))
}

/// The ConfigMap of the files the plan marks as changed per environment.
fn config_map(
    cx: &Context,
    names: &Names,
    findings: &mut Vec<Finding>,
) -> Option<(Value, ConfigFiles)> {
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut items = Vec::new();
    for path in &cx.app.deploy.per_environment {
        if !cx.app.files.iter().any(|f| &f.path == path) {
            findings.push(Finding::warning(
                path,
                "deploy.per_environment names a file the plan does not take: no ConfigMap entry",
            ));
            continue;
        }
        let bytes = match cx.host.open(Path::new(path)).and_then(|mut f| {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut b).map(|_| b)
        }) {
            Ok(b) => b,
            Err(e) => {
                findings.push(Finding::warning(path, format!("not in the ConfigMap: {e}")));
                continue;
            }
        };
        let key = volume_name(path);
        match String::from_utf8(bytes) {
            Ok(text) => data.insert(key.clone(), json!(text)),
            Err(e) => binary.insert(
                key.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
            ),
        };
        items.push((path.clone(), key));
    }
    if items.is_empty() {
        return None;
    }
    let name = format!("{}-config", names.app);
    let mut doc = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "labels": names.labels() },
        "data": Value::Object(data),
    });
    if !binary.is_empty() {
        doc["binaryData"] = Value::Object(binary);
    }
    Some((doc, ConfigFiles { name, items }))
}

/// Bytes copied into each populated volume, by the volume's path.
fn volume_sizes(cx: &Context) -> BTreeMap<String, u64> {
    let local = crate::host::at(cx.dir);
    cx.app
        .volumes
        .iter()
        .map(|v| {
            let top = Path::new("/volumes").join(volume_name(&v.path));
            let mut bytes = 0;
            local.walk(
                &top,
                usize::MAX,
                &mut |w| {
                    if w.file_type.is_file() {
                        bytes += local.lstat(&w.path).map_or(0, |m| m.len());
                    }
                    true
                },
                &mut |_, _| {},
            );
            (v.path.clone(), bytes)
        })
        .collect()
}

fn kustomization(app: &AppPlan, resources: &[&str]) -> String {
    let mut out = format!(
        "# kubectl apply -k . deploys the lifted {}; `kustomize edit set image` points it at\n\
         # your registry.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
         resources:\n",
        app.name
    );
    for r in resources {
        out.push_str(&format!("- {r}\n"));
    }
    out
}

fn readme(app: &AppPlan, kind: &str, resources: &[&str]) -> String {
    let data = if data_image::volumes(app).is_empty() {
        String::new()
    } else {
        format!(
            "\n## The lifted data\n\nEach PersistentVolumeClaim starts empty. Before the app starts, an init container of\n\
             `{data}` (`../{file}`, the data liftkit copied into `../volumes/` at build time) runs\n\
             `{populate} populate /data/<volume> /volume`: it copies the data, owners and modes\n\
             kept, into a claim that is empty, and leaves a claim that holds data as it is. Restarts\n\
             and rescheduling never overwrite what the app wrote. To start over from the lifted\n\
             data, delete the claim.\n\n\
             Push both images where the cluster pulls from:\n\n\
             \x20   podman load -i ../image.tar && podman load -i ../{file}\n\
             \x20   podman push {image} REGISTRY/…  &&  podman push {data} REGISTRY/…\n\
             \x20   kustomize edit set image {image}=REGISTRY/… {data}=REGISTRY/…\n",
            data = data_image::name(app),
            file = data_image::FILE,
            populate = data_image::POPULATE,
            image = app.image.name,
        )
    };
    format!(
        "# {name} on Kubernetes\n\n`kubectl apply -k .` creates: {list}.\n\n\
         The {kind} runs `{image}` with the command, user, environment, volumes and secrets\n\
         run.sh uses. Resource requests and limits were sized from what the original used (the\n\
         reason is in the pod's `liftkit.io/resources` annotation); readiness and liveness probes\n\
         come from the analyzer's probes. `secret.yaml` holds the secrets' values (0600): keep it\n\
         out of version control, or replace it by your secret store. Unlike run.sh, Kubernetes sets\n\
         no rlimits and runs the app on the cluster's network unless the plan's\n\
         `deploy.host_network` is set.\n{data}",
        name = app.name,
        list = resources.join(", "),
        image = app.image.name,
    )
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::dns_label;

    #[test]
    fn names_kubernetes_accepts() {
        assert_eq!(dns_label("var-lib_redis.d"), "var-lib-redis-d");
        assert_eq!(dns_label("--Nginx--"), "nginx");
        assert_eq!(dns_label("_"), "app");
        assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
    }
}
