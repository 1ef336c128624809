//! `liftkit bench build PLAN`: `liftkit build` against `tar -c` of the same files piped to
//! `gzip -6`, the pipeline a consultant would otherwise run, in the same run: wall time, median
//! of several runs, and the ratio. Every run's images are compared: the same plan must give the
//! same bytes.

use super::measure::{self, Measured};
use super::{io, ratio, BenchError};
use crate::plan::{Plan, VolumeKind};
use serde::Serialize;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Options {
    pub runs: usize,
    /// The root file contents are read from (`build --root`), else the plan's.
    pub root: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub apps: Vec<String>,
    /// Files tar reads: the plan's files and the populated volumes' contents.
    pub files: usize,
    pub file_bytes: u64,
    pub layer_bytes: u64,
    pub runs: usize,
    pub threads: usize,
    pub build: Measured,
    pub tar_gzip: Measured,
    /// build / (tar | gzip): below 1 is faster.
    pub time_ratio: f64,
    /// Every run gave the same manifest digests.
    pub reproducible: bool,
    pub manifest_digests: Vec<String>,
}

/// The peer: GNU tar over the same list, its stream compressed by gzip at the layer's level.
pub const PEER: &str = "tar -cf - --no-recursion --null -T \"$1\" | gzip -6 > \"$2\"";

pub fn measure(
    plan_path: &Path,
    opts: &Options,
    work: &Path,
    liftkit: &Path,
) -> Result<Figures, BenchError> {
    super::require(&["tar", "gzip"], "tar gzip")?;
    let plan = crate::plan::load(plan_path)?;
    let root = match &opts.root {
        Some(r) => r.clone(),
        None if plan.source.root.starts_with('/') => PathBuf::from(&plan.source.root),
        None => PathBuf::from("/"),
    };
    let (list, files, file_bytes) = file_list(&plan, &root, work)?;
    let mut run = 0;
    let mut digests: Vec<Vec<String>> = Vec::new();
    let mut layer_bytes = 0;
    // Exit 1 is a build that finished with error-level findings: built all the same.
    let (_, build) = measure::repeat(opts.runs, &[0, 1], || {
        run += 1;
        let out = work.join(format!("out{run}"));
        let mut c = Command::new(liftkit);
        c.arg("build")
            .arg(plan_path)
            .args(["--priority", "normal", "--force", "-o"])
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "1700000000");
        if let Some(r) = &opts.root {
            c.arg("--root").arg(r);
        }
        c
    })?;
    for i in 1..=run {
        let out = work.join(format!("out{i}"));
        let (d, bytes) = built_digests(&out)?;
        digests.push(d);
        layer_bytes = bytes;
        let _ = std::fs::remove_dir_all(&out);
    }
    let peer_out = work.join("peer.tar.gz");
    let (_, tar_gzip) = measure::repeat(opts.runs, &[0], || {
        let mut c = Command::new("sh");
        c.args(["-c", PEER, "sh"]).arg(&list).arg(&peer_out);
        c
    })?;
    Ok(Figures {
        apps: plan.apps.iter().map(|a| a.name.clone()).collect(),
        files,
        file_bytes,
        layer_bytes,
        runs: opts.runs,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        time_ratio: ratio(build.seconds, tar_gzip.seconds),
        build,
        tar_gzip,
        reproducible: digests.windows(2).all(|w| w[0] == w[1]),
        manifest_digests: digests.into_iter().next().unwrap_or_default(),
    })
}

/// The files build reads, NUL-separated for `tar --null -T`: each regular file of the plan and
/// everything under its populated volumes, as paths under `root`.
fn file_list(plan: &Plan, root: &Path, work: &Path) -> Result<(PathBuf, usize, u64), BenchError> {
    let under = |p: &str| root.join(p.trim_start_matches('/'));
    let mut paths: Vec<PathBuf> = Vec::new();
    for app in &plan.apps {
        paths.extend(app.files.iter().map(|f| under(&f.path)));
        for v in app
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeKind::Volume && v.populate)
        {
            paths.extend(
                walkdir::WalkDir::new(under(&v.path))
                    .into_iter()
                    .flatten()
                    .map(|e| e.into_path()),
            );
        }
    }
    paths.sort();
    paths.dedup();
    let mut list = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for p in &paths {
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
        list.extend_from_slice(p.as_os_str().as_bytes());
        list.push(0);
    }
    let path = work.join("files.list");
    std::fs::write(&path, list).map_err(io(&path))?;
    Ok((path, files, bytes))
}

/// The manifest digest of every app a build wrote, in name order, and the layers' bytes.
fn built_digests(out: &Path) -> Result<(Vec<String>, u64), BenchError> {
    let mut digests = Vec::new();
    let mut bytes = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(io(out))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("build.json").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let path = d.join("build.json");
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let b: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| BenchError::Failed(format!("{}: {e}", path.display())))?;
        digests.push(
            b["manifest_digest"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        bytes += b["layer_bytes"].as_u64().unwrap_or(0);
    }
    Ok((digests, bytes))
}
