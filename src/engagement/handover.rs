//! The handover pack (`handover/`): per app its image, run forms, report and acceptance
//! evidence; the statement of work and scope it was made against; a summary across apps; and
//! `SHA256SUMS` over every file (`sha256sum -c SHA256SUMS` checks it).
//!
//! The pack is made from the workspace alone, whole each time (staged, then renamed into
//! place), so the same workspace gives the same pack byte for byte. Data volumes and secrets are
//! not in it: they are the customer's data and credentials, listed in the summary with where
//! they are.

use super::{io_err, write_file, EngagementError, Workspace};
use crate::report::render::{render, Format};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SUMMARY_HTML: &str = include_str!("../../templates/handover.html.hbs");
const SUMMARY_MD: &str = include_str!("../../templates/handover.md.hbs");

/// An app's files taken into the pack, when it has them.
const APP_FILES: &[&str] = &[
    "image.tar",
    "run.sh",
    "compose.yaml",
    "kubernetes.yaml",
    "Dockerfile",
    "linuxkit.yml",
    "LINUXKIT.md",
    "report.html",
    "report.md",
    "report.json",
    "plan.yaml",
    "sbom.cdx.json",
    "build.json",
    crate::verify::accept::FILE,
];

/// The engagement's own documents taken into the pack.
const WORKSPACE_FILES: &[&str] = &["sow.md", "sow.html", "sow.pdf", "scope.yaml"];

pub const SUMS: &str = "SHA256SUMS";

pub struct Handover {
    pub dir: PathBuf,
    pub files: usize,
    pub summary: super::summary::Summary,
}

pub fn write(ws: &Workspace) -> Result<Handover, EngagementError> {
    let fleet = ws.fleet()?;
    let scope = ws.scope()?;
    let dir = ws.handover_dir();
    let staging = ws.dir.join(".handover.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging, "cannot remove"))?;
    }
    let mut taken: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in scope.in_scope() {
        let from = ws.app_dir(&a.host, &a.app);
        if !from.join("build.json").is_file() {
            continue;
        }
        let rel = format!(
            "apps/{}/{}",
            crate::plan::slug(&a.host),
            crate::plan::slug(&a.app)
        );
        let to = staging.join(&rel);
        let mut files = Vec::new();
        for name in APP_FILES {
            if copy_if_present(&from.join(name), &to.join(name))? {
                files.push(format!("{rel}/{name}"));
            }
        }
        taken.insert(a.id(), files);
    }
    for name in WORKSPACE_FILES {
        copy_if_present(&ws.dir.join(name), &staging.join(name))?;
    }
    let summary = super::summary::build(ws, &fleet, &scope, &|id| {
        taken.get(id).cloned().unwrap_or_default()
    })?;
    let json = serde_json::to_string_pretty(&summary).map_err(|e| EngagementError::Io {
        path: staging.join("summary.json"),
        what: "cannot encode",
        source: std::io::Error::other(e),
    })?;
    write_file(&staging.join("summary.json"), (json + "\n").as_bytes())?;
    write_file(
        &staging.join("summary.md"),
        render("handover.md.hbs", SUMMARY_MD, Format::Markdown, &summary)?.as_bytes(),
    )?;
    write_file(
        &staging.join("summary.html"),
        render("handover.html.hbs", SUMMARY_HTML, Format::Html, &summary)?.as_bytes(),
    )?;
    let files = checksums(&staging)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err(&dir, "cannot remove"))?;
    }
    std::fs::rename(&staging, &dir).map_err(io_err(&dir, "cannot rename into place"))?;
    Ok(Handover {
        dir,
        files,
        summary,
    })
}

fn copy_if_present(from: &Path, to: &Path) -> Result<bool, EngagementError> {
    if !from.is_file() {
        return Ok(false);
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir, "cannot create"))?;
    }
    std::fs::copy(from, to).map_err(io_err(from, "cannot copy"))?;
    Ok(true)
}

/// Writes `SHA256SUMS` for every file under `dir` (sorted by path, `sha256sum` format) and
/// returns how many it lists.
fn checksums(dir: &Path) -> Result<usize, EngagementError> {
    let mut lines = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| EngagementError::Io {
            path: dir.to_path_buf(),
            what: "cannot list",
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        lines.push((rel, file_sha256(entry.path())?));
    }
    lines.sort();
    let text: String = lines
        .iter()
        .map(|(path, sum)| format!("{sum}  {path}\n"))
        .collect();
    write_file(&dir.join(SUMS), text.as_bytes())?;
    Ok(lines.len())
}

fn file_sha256(path: &Path) -> Result<String, EngagementError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(io_err(path, "cannot read"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path, "cannot read"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
