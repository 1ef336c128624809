//! `sbom.cdx.json`: a CycloneDX 1.5 bill of materials for the image: the Debian packages its files
//! come from (with package URLs scanners match against advisories) and the files no package owns.

use crate::plan::{AppPlan, Source};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn write(cx: &super::Context, record: &mut super::AppBuild) -> Result<(), super::BuildError> {
    let created = crate::timefmt::rfc3339(record.created.max(0) as u64);
    let text = cyclonedx(cx.app, &cx.plan.source, &cx.image.manifest_digest, &created)
        .map_err(cx.encode("sbom.cdx.json"))?;
    cx.write("sbom.cdx.json", &text)
}

pub fn cyclonedx(
    app: &AppPlan,
    source: &Source,
    manifest_digest: &str,
    created: &str,
) -> Result<String, String> {
    let distro = if source.os_id.is_empty() || source.os_version_id.is_empty() {
        String::new()
    } else {
        format!("&distro={}-{}", source.os_id, source.os_version_id)
    };
    let namespace = if source.os_id.is_empty() {
        "debian"
    } else {
        source.os_id.as_str()
    };
    let arch = super::oci::host_arch();
    let mut files_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unowned = 0;
    for f in &app.files {
        match f.package.as_deref() {
            Some(p) => *files_of.entry(p).or_default() += 1,
            None => unowned += 1,
        }
    }
    let rpm = is_rpm_family(&source.os_id);
    let components: Vec<Value> = app
        .packages
        .iter()
        .map(|p| {
            let purl = if rpm {
                rpm_purl(namespace, p, &distro)
            } else {
                format!(
                    "pkg:deb/{namespace}/{}@{}?arch={arch}{distro}",
                    p.name,
                    purl_escape(&p.version)
                )
            };
            json!({
                "type": "library",
                "bom-ref": purl,
                "name": p.name,
                "version": p.version,
                "purl": purl,
                "properties": [
                    { "name": "liftkit:files-in-image", "value": files_of.get(p.name.as_str()).copied().unwrap_or(0).to_string() },
                    { "name": "liftkit:installed-kib-on-source", "value": p.installed_kib.to_string() },
                ],
            })
        })
        .collect();
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial(manifest_digest),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": { "components": [{ "type": "application", "name": "liftkit", "version": env!("CARGO_PKG_VERSION") }] },
            "component": {
                "type": "container",
                "bom-ref": manifest_digest,
                "name": app.image.name,
                "version": app.version,
            },
            "properties": [
                { "name": "liftkit:app", "value": app.name },
                { "name": "liftkit:files-owned-by-no-package", "value": unowned.to_string() },
            ],
        },
        "components": components,
    });
    serde_json::to_string_pretty(&bom)
        .map(|t| t + "\n")
        .map_err(|e| e.to_string())
}

/// Distributions whose packages are rpms: their purls are `pkg:rpm/…`, as scanners match them.
pub fn is_rpm_family(os_id: &str) -> bool {
    matches!(
        os_id,
        "rhel"
            | "centos"
            | "fedora"
            | "rocky"
            | "almalinux"
            | "ol"
            | "amzn"
            | "sles"
            | "sled"
            | "opensuse-leap"
            | "opensuse-tumbleweed"
            | "mariner"
            | "azurelinux"
            | "photon"
    )
}

/// `pkg:rpm/<vendor>/<name>@<version>-<release>?arch=…&epoch=…`: the purl spec keeps the epoch
/// out of the version, in its own qualifier.
fn rpm_purl(namespace: &str, p: &crate::plan::PackageUse, distro: &str) -> String {
    let vendor = match namespace {
        "rhel" => "redhat",
        "sles" | "sled" | "opensuse-leap" | "opensuse-tumbleweed" => "suse",
        other => other,
    };
    let (epoch, vr) = match p.version.split_once(':') {
        Some((e, vr)) => (format!("&epoch={e}"), vr),
        None => (String::new(), p.version.as_str()),
    };
    let arch = if p.arch.is_empty() { "x86_64" } else { &p.arch };
    format!(
        "pkg:rpm/{vendor}/{}@{}?arch={arch}{epoch}{distro}",
        p.name,
        purl_escape(vr)
    )
}

/// A stable RFC 4122 URN from the manifest digest: the same image always has the same serial.
fn serial(digest: &str) -> String {
    let hex: String = digest
        .trim_start_matches("sha256:")
        .chars()
        .chain("0".repeat(32).chars())
        .take(32)
        .collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Percent-encodes what a purl version may not hold literally (`+`, `:`, `~` stay readable).
fn purl_escape(v: &str) -> String {
    v.chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            ':' => "%3A".to_string(),
            c => c.to_string(),
        })
        .collect()
}
