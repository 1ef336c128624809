//! The bill of materials, where scanners look for it: `sbom.cdx.json` (CycloneDX 1.5) beside
//! the image, the same document inside it and attached to it in the OCI layout as a referrer,
//! and each package's own record in the form its package manager's scanners read (`dpkg`).
//!
//! The document names the Debian packages the image's files come from (with package URLs
//! scanners match against advisories) and counts the files no package owns. It holds no digest
//! of the image, since it is part of the image.

mod dpkg;

use crate::host::Host;
use crate::plan::{AppPlan, PackageUse, Role, Source};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Where the image carries its SBOM: the directory apko-built distroless images keep theirs in.
pub const IMAGE_DIR: &str = "/var/lib/db/sbom";
/// The referrer's artifact type and the blob's media type.
pub const MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

/// A file the build adds to the image.
pub struct Record {
    pub path: String,
    pub bytes: Vec<u8>,
}

pub fn write(cx: &super::Context, record: &mut super::AppBuild) -> Result<(), super::BuildError> {
    let text = document(
        cx.app,
        &cx.plan.source,
        cx.opts.include_secrets,
        record.created,
    )
    .map_err(cx.encode("sbom.cdx.json"))?;
    cx.write("sbom.cdx.json", &text)
}

/// Path of the SBOM inside the image.
pub fn image_path(app: &AppPlan) -> String {
    format!("{IMAGE_DIR}/{}.cdx.json", app.slug())
}

/// The SBOM document of the image built at `created` (the same bytes everywhere it is put).
pub fn document(
    app: &AppPlan,
    source: &Source,
    include_secrets: bool,
    created: i64,
) -> Result<String, String> {
    let created = crate::timefmt::rfc3339(created.max(0) as u64);
    cyclonedx(
        app,
        source,
        &packages_in_image(app, include_secrets),
        &created,
    )
}

/// What the build adds to the image for scanners: each package's record, in its package
/// manager's form, and the SBOM itself. `paths`: every path the image holds.
pub fn image_records(
    app: &AppPlan,
    source: &Source,
    host: &dyn Host,
    paths: &BTreeSet<String>,
    include_secrets: bool,
    created: i64,
) -> Result<Vec<Record>, String> {
    let packages = packages_in_image(app, include_secrets);
    let mut out = match PackageManager::of(source) {
        PackageManager::Dpkg => dpkg::records(app, &packages, paths, host),
        // rpm hosts: their rpm database of the image's packages is laid out with the files
        // (build::rpmdb, from layout).
        PackageManager::Other => Vec::new(),
    };
    out.push(Record {
        path: image_path(app),
        bytes: document(app, source, include_secrets, created)?.into_bytes(),
    });
    Ok(out)
}

/// Which package manager's records the image carries, from the source's distribution.
enum PackageManager {
    Dpkg,
    Other,
}

impl PackageManager {
    fn of(source: &Source) -> Self {
        match source.os_id.as_str() {
            "" | "debian" | "ubuntu" | "raspbian" | "linuxmint" | "devuan" | "kali" => {
                PackageManager::Dpkg
            }
            _ => PackageManager::Other,
        }
    }
}

/// The plan's packages that at least one file in the image comes from (a secret kept out of
/// the image draws nothing from its package).
pub fn packages_in_image(app: &AppPlan, include_secrets: bool) -> Vec<&PackageUse> {
    let drawn: BTreeSet<&str> = app
        .files
        .iter()
        .filter(|f| include_secrets || f.role != Role::Secret)
        .filter_map(|f| f.package.as_deref())
        .collect();
    app.packages
        .iter()
        .filter(|p| drawn.contains(p.name.as_str()))
        .collect()
}

fn cyclonedx(
    app: &AppPlan,
    source: &Source,
    packages: &[&PackageUse],
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
    let host_arch = super::oci::host_arch();
    let mut files_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unowned = 0;
    for f in &app.files {
        match f.package.as_deref() {
            Some(p) => *files_of.entry(p).or_default() += 1,
            None => unowned += 1,
        }
    }
    let rpm = is_rpm_family(&source.os_id);
    let components: Vec<Value> = packages
        .iter()
        .map(|p| {
            let arch = if p.arch.is_empty() { host_arch } else { &p.arch };
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
        "serialNumber": serial(app, packages),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": { "components": [{ "type": "application", "name": "liftkit", "version": env!("CARGO_PKG_VERSION") }] },
            "component": {
                "type": "container",
                "bom-ref": app.image.name,
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
fn rpm_purl(namespace: &str, p: &PackageUse, distro: &str) -> String {
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

/// A stable RFC 4122 URN from what the document describes: the same plan always gives the same
/// serial, and another image's packages another one.
fn serial(app: &AppPlan, packages: &[&PackageUse]) -> String {
    let mut described = format!("{}\n{}\n", app.name, app.image.name);
    for p in packages {
        described.push_str(&format!("{} {} {}\n", p.name, p.version, p.arch));
    }
    let hex = crate::build::oci::sha256_hex(described.as_bytes());
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
