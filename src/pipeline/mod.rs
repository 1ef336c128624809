//! The pipeline as library calls: collect → analyze → build (→ host images), the files a run
//! writes, and the findings it returns.
//!
//! `lift`, the wizard, `collect --bundle` and `batch` are adapters over a [`Session`]: they parse
//! their arguments, call it, and print. Each step is a function of the previous step's value (a
//! snapshot, a plan), so a step can run alone on a saved file; the side effects (writing files,
//! running programs) stay in the steps that name them.

mod bundle;
mod output;

use crate::analyze::{self, Analyzer, Candidate, Selection};
use crate::build::{self, AppBuild};
use crate::findings::Finding;
use crate::host::select::{self, Contents};
use crate::host::Host;
use crate::plan::Plan;
use crate::snapshot::{self, Snapshot};
use std::path::{Path, PathBuf};

pub use bundle::Bundled;
pub use output::{app_dirs, prepare_output};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Analyze(#[from] analyze::AnalyzeError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    Source(#[from] select::SelectError),
    #[error(transparent)]
    HostImage(#[from] crate::hostimage::HostImageError),
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{0}")]
    Output(String),
}

pub(crate) fn io_err(
    path: &Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> PipelineError {
    let path = path.to_path_buf();
    move |source| PipelineError::Io { path, what, source }
}

/// How long steps tell the person waiting how far they are. The binary draws bars and
/// spinners; tests and batch pass [`Quiet`].
pub trait Progress: Sync {
    /// A step begins; `total` items when known.
    fn begin(&self, what: &str, total: Option<u64>);
    /// Items done so far in the current step (and the total, when it became known).
    fn advance(&self, done: u64, total: Option<u64>);
    /// What the current step works on now (`building nginx`).
    fn working_on(&self, what: &str);
    fn end(&self);
}

pub struct Quiet;

impl Progress for Quiet {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64, _: Option<u64>) {}
    fn working_on(&self, _: &str) {}
    fn end(&self) {}
}

/// What build needs besides the plan.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub include_secrets: bool,
    /// `SOURCE_DATE_EPOCH`; None: the newest file taken.
    pub source_date_epoch: Option<i64>,
    /// Apply each app's system call profile in its run forms (`--seccomp`).
    pub seccomp: bool,
}

/// One run of the pipeline: the knowledge it applies and where it reports progress.
pub struct Session<'a> {
    pub analyzers: &'a [Analyzer],
    pub progress: &'a dyn Progress,
}

impl<'a> Session<'a> {
    pub fn new(analyzers: &'a [Analyzer], progress: &'a dyn Progress) -> Self {
        Session {
            analyzers,
            progress,
        }
    }

    /// The live host's inventory, with the analyzers' live questions answered.
    pub fn collect(&self) -> Snapshot {
        self.progress.begin("collecting processes", None);
        let mut snap = snapshot::collect::collect(&Default::default(), &|done, total| {
            self.progress.advance(done as u64, Some(total as u64))
        });
        self.progress.end();
        snap.facts = analyze::facts::gather(&snap, self.analyzers);
        snap
    }

    pub fn candidates(&self, snap: &Snapshot) -> Vec<Candidate> {
        analyze::candidates(snap, self.analyzers)
    }

    pub fn select(
        &self,
        snap: &Snapshot,
        selection: &Selection,
    ) -> Result<Vec<Candidate>, PipelineError> {
        Ok(analyze::select(snap, self.analyzers, selection)?)
    }

    /// The plan of the chosen applications, their files read from `host`.
    pub fn analyze(
        &self,
        snap: &Snapshot,
        host: &dyn Host,
        chosen: &[Candidate],
        opts: &analyze::Options,
    ) -> Plan {
        let what = match chosen {
            [one] => format!("analyzing {}", one.name),
            _ => format!("analyzing {} applications", chosen.len()),
        };
        self.progress.begin(&what, None);
        let plan = analyze::plan(snap, host, self.analyzers, chosen, opts);
        self.progress.end();
        plan
    }

    /// A saved snapshot analyzed against the host the one rule gives it (`--root`, its bundle,
    /// this machine, or no files).
    pub fn analyze_saved(
        &self,
        snapshot_file: &Path,
        snap: &Snapshot,
        explicit_root: Option<&Path>,
        selection: &Selection,
        cpu_level: Option<u8>,
        exclude: analyze::exclude::Excludes,
    ) -> Result<(Plan, Contents), PipelineError> {
        let source = select::for_snapshot(snapshot_file, snap, explicit_root)?;
        let selection = saved_selection(snap, source.contents, selection);
        let chosen = self.select(snap, &selection)?;
        let opts = analyze::Options {
            cpu_level,
            source_root: source.host.root_label(),
            snapshot_path: snapshot_file.to_string_lossy().into_owned(),
            exclude,
        };
        Ok((
            self.analyze(snap, &*source.host, &chosen, &opts),
            source.contents,
        ))
    }

    /// Builds every app of the plan into `out/<app>/`.
    pub fn build(
        &self,
        plan: &Plan,
        host: &dyn Host,
        out: &Path,
        req: &BuildRequest,
        snapshot: Option<Snapshot>,
    ) -> Result<Vec<AppBuild>, PipelineError> {
        self.build_with(plan, host, out, &build_options(req, snapshot))
    }

    /// Builds every app of the plan with options already made (the trial rebuilds with them).
    pub fn build_with(
        &self,
        plan: &Plan,
        host: &dyn Host,
        out: &Path,
        options: &build::Options,
    ) -> Result<Vec<AppBuild>, PipelineError> {
        self.progress
            .begin("building images", Some(plan.apps.len() as u64));
        let mut builds = Vec::new();
        for (i, app) in plan.apps.iter().enumerate() {
            self.progress.working_on(&format!("building {}", app.name));
            let built = build::build_app(plan, app, host, out, options);
            self.progress.advance(i as u64 + 1, None);
            builds.push(built.inspect_err(|_| self.progress.end())?);
        }
        self.progress.end();
        Ok(builds)
    }

    /// The trial run of every built app (see [`crate::trial`]): starts each image in a sandbox,
    /// adds what it looked for and the host has, rebuilds, repeats; records `trial.json` and the
    /// report's trial section. `plan` and `builds` are updated to what the last round built; the
    /// caller saves the plan again.
    pub fn trial(
        &self,
        plan: &mut Plan,
        host: &dyn Host,
        out: &Path,
        builds: &mut [AppBuild],
        options: &build::Options,
        trial: &crate::trial::Options,
    ) -> Vec<crate::trial::Trial> {
        self.progress
            .begin("trial run of the lifted images", Some(builds.len() as u64));
        let mut trials = Vec::new();
        for (i, slot) in builds.iter_mut().enumerate() {
            let Some(index) = plan.apps.iter().position(|a| a.name == slot.app) else {
                continue;
            };
            self.progress
                .working_on(&format!("trial run of {}", slot.app));
            let built = slot.clone();
            let (t, last) = crate::trial::run(plan, index, host, out, built, options, trial);
            let _ = crate::trial::record(&last.dir, &t);
            *slot = last;
            trials.push(t);
            self.progress.advance(i as u64 + 1, None);
        }
        self.progress.end();
        trials
    }

    /// Bootable host images beside each built app.
    pub fn host_images(
        &self,
        builds: &[AppBuild],
        opts: &crate::hostimage::Options,
    ) -> Result<Vec<crate::hostimage::HostImage>, PipelineError> {
        builds
            .iter()
            .map(|b| Ok(crate::hostimage::build(&b.dir, opts)?))
            .collect()
    }

    /// `collect --bundle`: plans the chosen apps on the live host and copies what they read
    /// beside the snapshot file.
    pub fn bundle(
        &self,
        snap: &Snapshot,
        selection: &Selection,
        snapshot_file: &Path,
    ) -> Result<Bundled, PipelineError> {
        let chosen = self.select(snap, selection)?;
        let plan = self.analyze(
            snap,
            &crate::host::live(),
            &chosen,
            &analyze::Options::default(),
        );
        self.progress
            .begin("bundling the files the applications need", None);
        let bundled = bundle::write(&plan, snapshot_file);
        self.progress.end();
        bundled
    }
}

/// What to plan of a saved snapshot when nothing was asked: with its files from a bundle made
/// for some applications (`collect --bundle --app X`), those, since only their files travelled;
/// else everything.
/// (By pid: names follow what else runs. A snapshot whose bundled pids are gone, edited by
/// hand, plans everything.)
pub fn saved_selection(snap: &Snapshot, contents: Contents, asked: &Selection) -> Selection {
    let bundled = &snap.bundle_pids;
    match asked {
        Selection::All
            if contents == Contents::Bundle
                && !bundled.is_empty()
                && bundled.iter().all(|p| snap.process(*p).is_some()) =>
        {
            Selection::Pids(bundled.clone())
        }
        other => other.clone(),
    }
}

/// Build options from a request and the snapshot the plan was made from.
pub fn build_options(req: &BuildRequest, snapshot: Option<Snapshot>) -> build::Options {
    build::Options {
        source_date_epoch: req.source_date_epoch,
        include_secrets: req.include_secrets,
        snapshot,
        seccomp: req.seccomp,
    }
}

/// Writes the snapshot and plan a run was made from into its output directory.
pub fn save_inputs(out: &Path, snap: &Snapshot, plan: &Plan) -> Result<(), PipelineError> {
    let snapshot_path = out.join("snapshot.json");
    snapshot::save(snap, &snapshot_path).map_err(io_err(&snapshot_path, "cannot write"))?;
    let plan_path = out.join("plan.yaml");
    crate::plan::save(plan, &plan_path).map_err(io_err(&plan_path, "cannot write"))?;
    Ok(())
}

/// Writes the plan again after the trial run changed it.
pub fn save_plan(out: &Path, plan: &Plan) -> Result<(), PipelineError> {
    let plan_path = out.join("plan.yaml");
    crate::plan::save(plan, &plan_path).map_err(io_err(&plan_path, "cannot write"))
}

/// Analysis options for a lift on the live host, whose outputs sit beside `snapshot.json`.
pub fn live_options() -> analyze::Options {
    analyze::Options {
        cpu_level: None,
        source_root: "/".to_string(),
        snapshot_path: "snapshot.json".to_string(),
        exclude: Default::default(),
    }
}

/// Every finding of a run: the plan's, then each build's.
pub fn findings(plan: &Plan, builds: &[AppBuild]) -> Vec<Finding> {
    plan.apps
        .iter()
        .flat_map(|a| a.findings.iter().cloned())
        .chain(builds.iter().flat_map(|b| b.findings.iter().cloned()))
        .collect()
}
