//! What the image weighs against what the same packages weigh installed on the host.
//!
//! File sizes are read through the `Host` the build read (stat, never contents); installed sizes
//! are dpkg's `Installed-Size` as the plan recorded them from the snapshot.

use super::chart::{self, Row};
use super::model::{PackageRow, SizeSection};
use super::text::{human_bytes, percent};
use crate::built::AppBuild;
use crate::host::Host;
use crate::plan::AppPlan;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Packages drawn one by one in the chart; the rest are in the table.
const CHART_PACKAGES: usize = 15;

/// Size and real path of each planned file. A merged-/usr host reaches one file under two names
/// (`/lib/…/libc.so.6` and `/usr/lib/…/libc.so.6`), and the image stores it once, so sums count
/// each real file once.
pub struct FileSizes {
    by_path: HashMap<String, (PathBuf, u64)>,
    /// The links passed on the way from a planned path to its real file (`/lib`).
    links: HashMap<String, Vec<PathBuf>>,
}

impl FileSizes {
    pub fn of(&self, path: &str) -> u64 {
        self.by_path.get(path).map_or(0, |e| e.1)
    }

    /// Where the image stores the file `path` names: the path with every link resolved.
    pub fn real(&self, path: &str) -> String {
        self.by_path
            .get(path)
            .map_or_else(|| path.to_string(), |e| e.0.to_string_lossy().into_owned())
    }

    /// The links `path` goes through, as `/lib` (empty when it names its file directly).
    pub fn links_of(&self, path: &str) -> &[PathBuf] {
        self.links.get(path).map_or(&[], Vec::as_slice)
    }

    /// How many distinct files `paths` name.
    pub fn count<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> usize {
        let mut seen = HashSet::new();
        paths
            .into_iter()
            .filter(|p| seen.insert(self.real(p)))
            .count()
    }

    /// Bytes of the distinct real files behind `paths`.
    pub fn sum<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> u64 {
        let mut seen = HashSet::new();
        paths
            .into_iter()
            .filter_map(|p| self.by_path.get(p))
            .filter(|(real, _)| seen.insert(real))
            .map(|(_, len)| len)
            .sum()
    }
}

/// Bytes of each regular file the plan takes (a path that is gone or not a file weighs 0).
pub fn file_sizes(app: &AppPlan, host: &dyn Host) -> FileSizes {
    let mut by_path = HashMap::new();
    let mut links = HashMap::new();
    for f in &app.files {
        let path = Path::new(&f.path);
        let (real, through) = match host.resolve(path) {
            Ok(r) => (r.real, r.links),
            Err(_) => (path.to_path_buf(), Vec::new()),
        };
        let len = host
            .lstat(&real)
            .ok()
            .filter(|m| m.is_file())
            .map_or(0, |m| m.len());
        by_path.insert(f.path.clone(), (real, len));
        if !through.is_empty() {
            links.insert(f.path.clone(), through);
        }
    }
    FileSizes { by_path, links }
}

/// Bytes of the regular files under `dir` (0 when it does not exist).
pub fn tree_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.path().symlink_metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[derive(Default)]
struct Taken<'a> {
    paths: Vec<&'a str>,
    bytes: u64,
    files: usize,
}

pub fn size_section(app: &AppPlan, built: &AppBuild, sizes: &FileSizes) -> SizeSection {
    let mut taken: BTreeMap<&str, Taken> = BTreeMap::new();
    let mut outside = Vec::new();
    for f in &app.files {
        match f.package.as_deref() {
            Some(p) => taken.entry(p).or_default().paths.push(&f.path),
            None => outside.push(f.path.as_str()),
        }
    }
    for t in taken.values_mut() {
        t.bytes = sizes.sum(t.paths.iter().copied());
        t.files = sizes.count(t.paths.iter().copied());
    }
    let outside = sizes.sum(outside);
    let installed = |name: &str| {
        app.packages
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.version.clone(), p.installed_kib * 1024))
    };
    let mut rows: Vec<(String, String, u64, &Taken)> = taken
        .iter()
        .map(|(name, t)| {
            let (version, bytes) = installed(name).unwrap_or_default();
            (name.to_string(), version, bytes, t)
        })
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let host_bytes: u64 = rows.iter().map(|r| r.2).sum();
    let from_packages = sizes.sum(taken.values().flat_map(|t| t.paths.iter().copied()));
    let ratio = if host_bytes == 0 {
        "The plan records no installed package sizes (made by an older liftkit, or the host \
         has no dpkg): re-run analyze to compare"
            .to_string()
    } else {
        format!(
            "The image takes {} ({}) of the {} its {} packages install on the host",
            human_bytes(from_packages),
            percent(from_packages, host_bytes),
            human_bytes(host_bytes),
            rows.len()
        )
    };
    let summary_chart = chart::bars(vec![
        Row {
            label: format!("Host: {} packages", rows.len()),
            bars: vec![(host_bytes, "host")],
            value: human_bytes(host_bytes),
        },
        Row {
            label: "Image files (uncompressed)".to_string(),
            bars: vec![(built.content_bytes, "image")],
            value: human_bytes(built.content_bytes),
        },
        Row {
            label: "Image layer (gzip)".to_string(),
            bars: vec![(built.layer_bytes, "layer")],
            value: human_bytes(built.layer_bytes),
        },
    ]);
    let package_chart = chart::bars(
        rows.iter()
            .take(CHART_PACKAGES)
            .map(|(name, _, host, t)| Row {
                label: name.clone(),
                bars: vec![(*host, "host"), (t.bytes, "image")],
                value: format!("{} of {}", human_bytes(t.bytes), human_bytes(*host)),
            })
            .collect(),
    );
    SizeSection {
        host_packages_bytes: host_bytes,
        host_packages_human: human_bytes(host_bytes),
        packages_count: rows.len(),
        from_packages_human: human_bytes(from_packages),
        outside_packages_human: human_bytes(outside),
        ratio,
        summary_chart,
        package_chart,
        packages: rows
            .iter()
            .map(|(name, version, host, t)| PackageRow {
                name: name.clone(),
                version: version.clone(),
                installed_human: if *host == 0 {
                    "unknown".to_string()
                } else {
                    human_bytes(*host)
                },
                taken_human: human_bytes(t.bytes),
                files: t.files,
                percent: percent(t.bytes, *host),
            })
            .collect(),
    }
}
