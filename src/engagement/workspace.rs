//! The workspace directory: what `init` makes, and where every later step reads and writes.
//!
//! ```text
//! DIR/engagement.yaml      name, customer, days, where the snapshots came from
//! DIR/snapshots/*.json     the inventories, copied in (a bundle beside one is linked, not copied)
//! DIR/fleet/               fleet.json, fleet.html, fleet.csv: fit and effort of every app
//! DIR/scope.yaml           the apps in scope and their acceptance tests (edited by hand)
//! DIR/plans/<host>/<app>.yaml   each app's plan (editable; its digest keys the run)
//! DIR/out/<host>/<app>/    the lift: image, run forms, report, acceptance.json
//! DIR/state.json           what run has done, per app and step
//! DIR/timesheet.yaml       effort booked
//! DIR/sow.md, sow.html, sow.pdf   the statement of work
//! DIR/handover/            the pack handed over, with SHA256SUMS
//! ```

use super::{io_err, read_yaml, write_file, EngagementError};
use crate::analyze::{Analyzer, Selection};
use crate::fleet::{self, FleetReport};
use crate::pipeline::Session;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;

/// `engagement.yaml`: what the engagement is, as the statement of work names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub schema: u32,
    pub name: String,
    #[serde(default)]
    pub customer: String,
    /// Working days the engagement has (the fixed price buys these).
    pub days: u32,
    /// Where the snapshots came from: a directory, or `live host NAME`.
    pub snapshots_from: String,
}

/// Where `init` takes the inventories from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory of snapshots (`liftkit collect` on each server, e.g. by the Ansible playbook).
    Snapshots(PathBuf),
    /// This machine, collected now; `bundle` also copies the files its applications need.
    Live { bundle: bool },
}

pub struct Workspace {
    pub dir: PathBuf,
    pub meta: Meta,
}

/// What `init` was given besides the source.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub name: Option<String>,
    pub customer: String,
    pub days: u32,
}

impl Workspace {
    /// Makes a workspace in `dir` (absent or empty): the snapshots, then the fleet's fit and
    /// effort over them.
    pub fn init(
        dir: &Path,
        source: &Source,
        opts: &InitOptions,
        session: &Session,
    ) -> Result<Workspace, EngagementError> {
        refuse_non_empty(dir)?;
        if opts.days == 0 {
            return Err(EngagementError::Usage(
                "--days: an engagement has at least one day".to_string(),
            ));
        }
        let snapshots = dir.join("snapshots");
        std::fs::create_dir_all(&snapshots).map_err(io_err(&snapshots, "cannot create"))?;
        let snapshots_from = match source {
            Source::Snapshots(from) => {
                copy_snapshots(from, &snapshots)?;
                std::fs::canonicalize(from)
                    .unwrap_or_else(|_| from.clone())
                    .display()
                    .to_string()
            }
            Source::Live { bundle } => collect_live(session, &snapshots, *bundle)?,
        };
        let name = opts.name.clone().unwrap_or_else(|| {
            std::fs::canonicalize(dir)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "engagement".to_string())
        });
        let meta = Meta {
            schema: SCHEMA_VERSION,
            name,
            customer: opts.customer.clone(),
            days: opts.days,
            snapshots_from,
        };
        let ws = Workspace {
            dir: dir.to_path_buf(),
            meta,
        };
        let total = fleet::snapshot_files(&snapshots)?.len() as u64;
        session.progress.begin("assessing the fleet", Some(total));
        let done = std::sync::atomic::AtomicU64::new(0);
        let assessed = ws.assess(session.analyzers, &|| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            session.progress.advance(n, None);
        });
        session.progress.end();
        assessed?;
        // Last: a workspace without engagement.yaml is not one, so a failed init is not taken
        // for a finished one.
        ws.save_meta()?;
        Ok(ws)
    }

    pub fn open(dir: &Path) -> Result<Workspace, EngagementError> {
        let path = dir.join("engagement.yaml");
        if !path.is_file() {
            return Err(EngagementError::NotAWorkspace {
                path: dir.to_path_buf(),
            });
        }
        let meta: Meta = read_yaml(&path)?;
        if meta.schema != SCHEMA_VERSION {
            return Err(EngagementError::Schema {
                path,
                found: meta.schema,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(Workspace {
            dir: dir.to_path_buf(),
            meta,
        })
    }

    fn save_meta(&self) -> Result<(), EngagementError> {
        let text = serde_yaml_ng::to_string(&self.meta).map_err(|e| EngagementError::Io {
            path: self.dir.join("engagement.yaml"),
            what: "cannot encode",
            source: std::io::Error::other(e),
        })?;
        write_file(
            &self.dir.join("engagement.yaml"),
            format!("# liftkit engagement: see `liftkit engagement --help`\n{text}").as_bytes(),
        )
    }

    /// The fleet's fit and effort over the workspace's snapshots, written to `fleet/`.
    pub fn assess(
        &self,
        analyzers: &[Analyzer],
        progress: &(dyn Fn() + Sync),
    ) -> Result<FleetReport, EngagementError> {
        let report = fleet::analyze_dir(&self.snapshots_dir(), analyzers, progress)?;
        fleet::write(&report, &self.fleet_dir())?;
        Ok(report)
    }

    pub fn fleet(&self) -> Result<FleetReport, EngagementError> {
        let path = self.fleet_dir().join("fleet.json");
        let text = std::fs::read_to_string(&path).map_err(io_err(&path, "cannot read"))?;
        serde_json::from_str(&text).map_err(|e| EngagementError::Parse {
            path,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    /// The scope file as it stands; a workspace not scoped yet says how to scope it.
    pub fn scope(&self) -> Result<super::Scope, EngagementError> {
        let file = self.scope_file();
        if !file.is_file() {
            return Err(EngagementError::Usage(format!(
                "{}: no scope yet: choose the apps with `liftkit engagement scope {} --app HOST/APP`",
                file.display(),
                self.dir.display()
            )));
        }
        super::Scope::load(&file)
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    pub fn fleet_dir(&self) -> PathBuf {
        self.dir.join("fleet")
    }

    pub fn scope_file(&self) -> PathBuf {
        self.dir.join("scope.yaml")
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn timesheet_file(&self) -> PathBuf {
        self.dir.join("timesheet.yaml")
    }

    pub fn handover_dir(&self) -> PathBuf {
        self.dir.join("handover")
    }

    /// The plan of one app: `plans/<host>/<app>.yaml`.
    pub fn plan_file(&self, host: &str, app: &str) -> PathBuf {
        self.dir
            .join("plans")
            .join(crate::plan::slug(host))
            .join(format!("{}.yaml", crate::plan::slug(app)))
    }

    /// Where a host's apps are built: `out/<host>/`, each app in its own directory below.
    pub fn out_dir(&self, host: &str) -> PathBuf {
        self.dir.join("out").join(crate::plan::slug(host))
    }

    pub fn app_dir(&self, host: &str, app: &str) -> PathBuf {
        self.out_dir(host).join(crate::plan::slug(app))
    }
}

fn refuse_non_empty(dir: &Path) -> Result<(), EngagementError> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir).map_err(io_err(dir, "cannot create"));
    }
    if !dir.is_dir() {
        return Err(EngagementError::Usage(format!(
            "{}: exists and is not a directory",
            dir.display()
        )));
    }
    let mut entries = std::fs::read_dir(dir).map_err(io_err(dir, "cannot list"))?;
    if entries.next().is_some() {
        let what = if dir.join("engagement.yaml").exists() {
            "is an engagement workspace already"
        } else {
            "exists and is not empty"
        };
        return Err(EngagementError::Usage(format!("{}: {what}", dir.display())));
    }
    Ok(())
}

/// Copies the snapshot files in; a bundle a snapshot names is linked at the same relative place,
/// so the one rule for file contents finds it from the copy (bundles are large and hold the
/// customer's files: they are not duplicated).
fn copy_snapshots(from: &Path, to: &Path) -> Result<(), EngagementError> {
    let files = fleet::snapshot_files(from)?;
    if files.is_empty() {
        return Err(EngagementError::Usage(format!(
            "{}: no snapshots (*.json) in it",
            from.display()
        )));
    }
    for file in files {
        let name = file.file_name().unwrap_or_default();
        let dest = to.join(name);
        std::fs::copy(&file, &dest).map_err(io_err(&file, "cannot copy"))?;
        // A snapshot holds process environments: the copy stays the operator's only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(&dest, "cannot chmod"))?;
        let Ok(snap) = crate::snapshot::load(&file) else {
            continue; // the fleet report lists it as unreadable, with the reason
        };
        if let Some(bundle) = snap.bundle.as_deref().map(Path::new) {
            let source = from.join(bundle);
            let link = to.join(bundle);
            if bundle.is_relative() && source.is_dir() && !link.exists() {
                let target =
                    std::fs::canonicalize(&source).map_err(io_err(&source, "cannot resolve"))?;
                if let Some(parent) = link.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err(parent, "cannot create"))?;
                }
                std::os::unix::fs::symlink(&target, &link).map_err(io_err(&link, "cannot link"))?;
            }
        }
    }
    Ok(())
}

/// Takes this machine's snapshot into `snapshots/<hostname>.json` (and its bundle).
fn collect_live(session: &Session, to: &Path, bundle: bool) -> Result<String, EngagementError> {
    let mut snap = session.collect();
    let host = snap.host.hostname.clone();
    let file = to.join(format!("{}.json", crate::plan::slug(&host)));
    if bundle {
        let bundled = session.bundle(&snap, &Selection::All, &file)?;
        snap.bundle = Some(bundled.name);
    }
    crate::snapshot::save(&snap, &file).map_err(io_err(&file, "cannot write"))?;
    Ok(format!("live host {host}"))
}
