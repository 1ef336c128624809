//! The JSON documents of an image: config, manifest, index, and docker's `manifest.json` and
//! `repositories`.
//!
//! oci-spec keeps labels, annotations, ports and volumes in `HashMap`s, whose order changes from
//! one process to the next; every document is therefore re-serialized with its keys sorted, the
//! one fixed order that needs no knowledge of the schema.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, Platform, PlatformBuilder,
    RootFsBuilder,
};
use serde::Serialize;
use serde_json::{json, Value};

use super::digest::Blob;
use super::{ImageConfig, OciError};

/// containerd's annotation for the full image name; `linuxkit cache import` registers only
/// index entries that carry it.
pub(crate) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// Docker 25+ puts the tag alone here, not the whole reference.
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image name split the way docker's `manifest.json` and `repositories` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub repo: String,
    pub tag: String,
}

impl Reference {
    /// Accepts `[host[:port]/]path[:tag]` with docker's character rules; digests (`@sha256:`)
    /// cannot name an image being written.
    pub fn parse(name: &str) -> Result<Self, OciError> {
        let bad = |why| OciError::InvalidName {
            name: name.to_string(),
            why,
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
            None => (name, "latest"),
        };
        if repo.is_empty() || repo.split('/').any(str::is_empty) {
            return Err(bad("empty repository or path component"));
        }
        let (host, path) = match repo.split_once('/') {
            Some((host, path)) if host.contains(['.', ':']) || host == "localhost" => (host, path),
            _ => ("", repo),
        };
        let host_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        let path_ok = path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c));
        if !host_ok || !path_ok {
            return Err(bad(
                "repository may hold only lowercase letters, digits, `._-/`",
            ));
        }
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !tag_ok {
            return Err(bad(
                "tag must be 1-128 of `A-Za-z0-9_.-`, not starting with . or -",
            ));
        }
        Ok(Reference {
            repo: repo.to_string(),
            tag: tag.to_string(),
        })
    }

    pub fn full(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
}

/// The OCI (Go) name of the architecture this binary runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn platform() -> Result<Platform, OciError> {
    Ok(PlatformBuilder::default()
        .architecture(Arch::from(host_arch()))
        .os(Os::Linux)
        .build()?)
}

pub(crate) fn config_json(cfg: &ImageConfig, diff_id: &str) -> Result<Vec<u8>, OciError> {
    let mut run = ConfigBuilder::default();
    if !cfg.user.is_empty() {
        run = run.user(cfg.user.clone());
    }
    if !cfg.exposed_ports.is_empty() {
        run = run.exposed_ports(cfg.exposed_ports.clone());
    }
    if !cfg.env.is_empty() {
        run = run.env(cfg.env.clone());
    }
    if !cfg.entrypoint.is_empty() {
        run = run.entrypoint(cfg.entrypoint.clone());
    }
    if !cfg.cmd.is_empty() {
        run = run.cmd(cfg.cmd.clone());
    }
    if !cfg.working_dir.is_empty() {
        run = run.working_dir(cfg.working_dir.clone());
    }
    if !cfg.volumes.is_empty() {
        run = run.volumes(cfg.volumes.clone());
    }
    if let Some(signal) = &cfg.stop_signal {
        run = run.stop_signal(signal.clone());
    }
    if !cfg.labels.is_empty() {
        run = run.labels(hash_map(&cfg.labels));
    }
    let created = rfc3339(cfg.created);
    let mut history = HistoryBuilder::default().created(created.clone());
    if !cfg.history.is_empty() {
        history = history.created_by(cfg.history.clone());
    }
    let config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::from(host_arch()))
        .os(Os::Linux)
        .config(run.build()?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id.to_string()])
                .build()?,
        )
        .history(vec![history.build()?])
        .build()?;
    canonical(&config)
}

fn descriptor(media_type: MediaType, blob: &Blob) -> Result<DescriptorBuilder, OciError> {
    let digest: oci_spec::image::Digest = blob.digest().parse()?;
    Ok(DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(blob.size))
}

pub(crate) fn manifest_json(
    cfg: &ImageConfig,
    config: &Blob,
    layer: &Blob,
) -> Result<Vec<u8>, OciError> {
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, config)?.build()?)
        .layers(vec![descriptor(MediaType::ImageLayerGzip, layer)?.build()?]);
    if !cfg.annotations.is_empty() {
        manifest = manifest.annotations(hash_map(&cfg.annotations));
    }
    canonical(&manifest.build()?)
}

/// OCI 1.1's empty descriptor content: the config of an artifact that has none.
pub(crate) const EMPTY_JSON: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// An artifact manifest (OCI 1.1): `artifactType`, the empty config, one blob, and `subject`,
/// the image it describes. Written as plain JSON: the fields are few and fixed.
pub(crate) fn referrer_manifest_json(
    r: &super::Referrer,
    empty: &Blob,
    payload: &Blob,
    subject: &Blob,
    created: i64,
) -> Result<Vec<u8>, OciError> {
    canonical(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageManifest.to_string(),
        "artifactType": r.artifact_type,
        "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": empty.digest(), "size": empty.size, "data": "e30=" },
        "layers": [{
            "mediaType": r.artifact_type,
            "digest": payload.digest(),
            "size": payload.size,
            "annotations": { "org.opencontainers.image.title": r.title },
        }],
        "subject": {
            "mediaType": MediaType::ImageManifest.to_string(),
            "digest": subject.digest(),
            "size": subject.size,
        },
        "annotations": { "org.opencontainers.image.created": rfc3339(created) },
    }))
}

/// The index: the image's manifest, named both ways docker 25+ names it, then the artifacts
/// that refer to it (no name: they are not images to run).
pub(crate) fn index_json(
    cfg: &ImageConfig,
    reference: &Reference,
    manifest: &Blob,
    referrers: &[(String, Blob)],
) -> Result<Vec<u8>, OciError> {
    let mut annotations = hash_map(&cfg.annotations);
    annotations.insert(ANNOTATION_IMAGE_NAME.into(), reference.full());
    annotations.insert(ANNOTATION_REF_NAME.into(), reference.tag.clone());
    let entry: Descriptor = descriptor(MediaType::ImageManifest, manifest)?
        .platform(platform()?)
        .annotations(annotations)
        .build()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![entry])
        .build()?;
    let mut index = serde_json::to_value(&index)?;
    if let Some(list) = index["manifests"].as_array_mut() {
        for (artifact_type, blob) in referrers {
            list.push(json!({
                "mediaType": MediaType::ImageManifest.to_string(),
                "artifactType": artifact_type,
                "digest": blob.digest(),
                "size": blob.size,
            }));
        }
    }
    canonical(&index)
}

/// Docker's `manifest.json`, by which `docker load` (and podman's docker-archive reader) find
/// config and layers.
pub(crate) fn docker_manifest_json(
    reference: &Reference,
    config: &Blob,
    layer: &Blob,
) -> Result<Vec<u8>, OciError> {
    canonical(&json!([{
        "Config": config.rel_path(),
        "RepoTags": [reference.full()],
        "Layers": [layer.rel_path()],
    }]))
}

/// The legacy `repositories` file: repository → tag → id of the top layer, which docker 25+
/// writes as the hex of the layer blob `manifest.json` lists last.
pub(crate) fn repositories_json(reference: &Reference, layer: &Blob) -> Result<Vec<u8>, OciError> {
    canonical(&json!({ &reference.repo: { &reference.tag: &layer.hex } }))
}

pub(crate) fn oci_layout_json() -> Result<Vec<u8>, OciError> {
    canonical(&json!({ "imageLayoutVersion": "1.0.0" }))
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Compact JSON with every object's keys sorted. Rebuilding each map in sorted order also holds
/// if serde_json's `preserve_order` feature gets enabled somewhere in the dependency graph.
fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, OciError> {
    fn sort(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<String, Value> =
                    map.into_iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sort(serde_json::to_value(value)?))?)
}

/// `seconds` since the epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`); earlier times clamp to
/// the epoch, as mtimes do.
pub(crate) fn rfc3339(seconds: i64) -> String {
    crate::timefmt::rfc3339(seconds.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn parses_references() {
        let r = Reference::parse("localhost/liftkit/nginx:1.22.1").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.tag.as_str()),
            ("localhost/liftkit/nginx", "1.22.1")
        );
        let r = Reference::parse("registry:5000/app").unwrap();
        assert_eq!(r.full(), "registry:5000/app:latest");
        for bad in ["", "Nginx:1", "a//b", "x@sha256:00", "x:", "x:-1", "x y"] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let mut map = HashMap::new();
        for k in ["b", "a", "c"] {
            map.insert(k.to_string(), json!({"z": 1, "y": 2}));
        }
        let out = String::from_utf8(canonical(&map).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"a":{"y":2,"z":1},"b":{"y":2,"z":1},"c":{"y":2,"z":1}}"#
        );
    }
}
