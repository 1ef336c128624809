//! One snapshot at a time: read it (or say why not), choose where its file contents come from,
//! analyze every application on it, and keep what the fleet comparison needs.

use super::{diff, effort, AppRow, FleetReport, HostRow, Summary, Unreadable};
use crate::analyze::{self, Analyzer, Selection};
use crate::findings::Level;
use crate::host::{select, Host};
use crate::plan::{AppPlan, Fit, Role};
use crate::snapshot::{self, Snapshot};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one snapshot file gave.
pub enum Outcome {
    Host(Box<Analyzed>),
    Unreadable(Unreadable),
}

pub struct Analyzed {
    pub host: HostRow,
    pub apps: Vec<AppFacts>,
}

/// One application instance with what the comparison reads.
pub struct AppFacts {
    pub row: AppRow,
    /// The name the same application goes by on every host: liftkit's app name, which carries
    /// the instance (`nginx-8080`) only where a host runs several.
    pub key: String,
    /// The packages this app's files come from (known where file contents were at hand).
    pub own_packages: Vec<String>,
    /// Every package installed on the host, name → version: compared for the packages any
    /// instance of the app draws from. `None` when the host has no package inventory.
    pub host_packages: Option<Arc<BTreeMap<String, String>>>,
    /// Config file → content digest; `None` when its contents could not be read. Empty when the
    /// host's file contents were not available at all.
    pub config: Option<BTreeMap<String, Option<String>>>,
}

pub fn all(
    files: &[PathBuf],
    analyzers: &[Analyzer],
    progress: &(dyn Fn() + Sync),
) -> Vec<Outcome> {
    files
        .par_iter()
        .map(|f| {
            let outcome = one(f, analyzers);
            progress();
            outcome
        })
        .collect()
}

fn one(file: &Path, analyzers: &[Analyzer]) -> Outcome {
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let snap = match read(file) {
        Ok(s) => s,
        Err(reason) => return Outcome::Unreadable(Unreadable { file: name, reason }),
    };
    let selected_host = match select::for_snapshot(file, &snap, None) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::Unreadable(Unreadable {
                file: name,
                reason: e.to_string(),
            })
        }
    };
    let (host, contents) = (&*selected_host.host, selected_host.contents.as_str());
    let selection =
        crate::pipeline::saved_selection(&snap, selected_host.contents, &Selection::All);
    let selected = analyze::select(&snap, analyzers, &selection).unwrap_or_default();
    let opts = analyze::Options {
        cpu_level: None,
        source_root: host.root_label(),
        snapshot_path: file.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let plan = analyze::plan(&snap, host, analyzers, &selected, &opts);
    let with_files = contents != "none";
    let packages = (!snap.packages.is_empty()).then(|| {
        Arc::new(
            snap.packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    });
    let apps: Vec<AppFacts> = plan
        .apps
        .iter()
        .map(|a| {
            let mut f = facts(&name, &snap, a, with_files.then_some(host));
            f.row.contents = contents.to_string();
            f.host_packages = packages.clone();
            f
        })
        .collect();
    let h = &snap.host;
    Outcome::Host(Box::new(Analyzed {
        host: HostRow {
            file: name,
            hostname: h.hostname.clone(),
            os: plan.source.os.clone(),
            kernel: h.kernel.clone(),
            packages_count: snap.packages.len(),
            collected_at: snap.collected_at.clone(),
            contents: contents.to_string(),
            apps: apps.len(),
            effort_days: effort::round(apps.iter().map(|a| a.row.effort_days).sum()),
        },
        apps,
    }))
}

/// Reads a snapshot, telling a file of another schema and a JSON file that is no snapshot at all
/// apart from a damaged one.
fn read(file: &Path) -> Result<Snapshot, String> {
    let text = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    // Only the two fields that say what the file is: the rest is skipped, not built (a fleet's
    // batch reads thousands of snapshots, each parsed once into its types below).
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<serde_json::Value>,
        host: Option<serde::de::IgnoredAny>,
    }
    let head: Head = serde_json::from_slice(&text).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            "not a liftkit snapshot: the JSON is not an object".to_string()
        } else {
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            )
        }
    })?;
    let (Some(schema), Some(_)) = (head.schema, head.host) else {
        return Err("not a liftkit snapshot: no `schema` and `host` fields".to_string());
    };
    match schema.as_u64() {
        Some(n) if n == u64::from(snapshot::SCHEMA_VERSION) => {}
        Some(n) => {
            return Err(format!(
                "snapshot schema {n} is not supported (this liftkit reads schema {})",
                snapshot::SCHEMA_VERSION
            ))
        }
        None => return Err("not a liftkit snapshot: `schema` is not a number".to_string()),
    }
    let text = String::from_utf8(text).map_err(|e| format!("not UTF-8 text: {e}"))?;
    snapshot::parse(file, &text).map_err(|e| {
        // The loader names the file; the report already does.
        let text = e.to_string();
        let prefix = format!("{}:", file.display());
        text.strip_prefix(&prefix)
            .unwrap_or(&text)
            .trim()
            .to_string()
    })
}

fn facts(file: &str, snap: &Snapshot, a: &AppPlan, host: Option<&dyn Host>) -> AppFacts {
    let errors: Vec<String> = a
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .map(|f| format!("{}: {}", f.subject, f.message))
        .collect();
    let mut blockers = errors.clone();
    if a.fit == Fit::Poor {
        blockers.extend(a.fit_reasons.iter().cloned());
    }
    let warning_messages: Vec<String> = a
        .findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .map(|f| format!("{}: {}", f.subject, f.message))
        .collect();
    let secrets = a.secrets.len() + a.files.iter().filter(|f| f.role == Role::Secret).count();
    let effort_days = effort::estimate(&effort::Factors {
        fit: a.fit,
        errors: errors.len(),
        volumes: kept_volumes(a),
        secrets,
    });
    let fit = match a.fit {
        Fit::Good => "good",
        Fit::Partial => "partial",
        Fit::Poor => "poor",
    };
    AppFacts {
        row: AppRow {
            file: file.to_string(),
            hostname: snap.host.hostname.clone(),
            app: a.name.clone(),
            analyzer: a.analyzer.clone(),
            version: a.version.clone(),
            fit: fit.to_string(),
            fit_reasons: a.fit_reasons.clone(),
            blockers,
            errors: errors.len(),
            warnings: warning_messages.len(),
            warning_messages,
            contents: String::new(),
            files: a.files.len(),
            volumes: kept_volumes(a),
            secrets,
            listen: a.image.listen.clone(),
            user: a.image.user.clone(),
            unit: a.unit.clone().unwrap_or_default(),
            effort_days,
            differs: Vec::new(),
        },
        key: a.name.clone(),
        own_packages: a.packages.iter().map(|p| p.name.clone()).collect(),
        host_packages: None,
        config: host.map(|h| config_digests(a, h)),
    }
}

fn config_digests(a: &AppPlan, host: &dyn Host) -> BTreeMap<String, Option<String>> {
    a.files
        .iter()
        .filter(|f| f.role == Role::Config)
        .map(|f| (f.path.clone(), digest(host, Path::new(&f.path))))
        .collect()
}

fn digest(host: &dyn Host, path: &Path) -> Option<String> {
    let mut file = host.open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(hex::encode(hasher.finalize()))
}

/// Puts the per-snapshot outcomes together: rows, differences, totals and charts.
pub fn assemble(dir: &Path, outcomes: Vec<Outcome>) -> FleetReport {
    let snapshots = outcomes.len();
    let mut hosts = Vec::new();
    let mut facts = Vec::new();
    let mut unreadable = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Host(a) => {
                hosts.push(a.host);
                facts.extend(a.apps);
            }
            Outcome::Unreadable(u) => unreadable.push(u),
        }
    }
    let differences = diff::differences(&mut facts);
    let apps: Vec<AppRow> = facts.into_iter().map(|f| f.row).collect();
    let count = |fit: &str| apps.iter().filter(|a| a.fit == fit).count();
    let summary = Summary {
        snapshots,
        hosts: hosts.len(),
        unreadable: unreadable.len(),
        apps: apps.len(),
        good: count("good"),
        partial: count("partial"),
        poor: count("poor"),
        blocked: apps.iter().filter(|a| !a.blockers.is_empty()).count(),
        effort_days: effort::round(apps.iter().map(|a| a.effort_days).sum()),
        differences: differences.len(),
        inventory_only: hosts.iter().filter(|h| h.contents == "none").count(),
    };
    let charts = super::render::charts(&summary, &hosts);
    FleetReport {
        schema: super::SCHEMA_VERSION,
        liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
        source: dir.display().to_string(),
        summary,
        hosts,
        apps,
        differences,
        unreadable,
        charts,
    }
}

/// Volumes that keep data (a tmpfs for what the app need not keep costs no migration work).
fn kept_volumes(a: &crate::plan::AppPlan) -> usize {
    a.volumes
        .iter()
        .filter(|v| v.kind == crate::plan::VolumeKind::Volume)
        .count()
}
