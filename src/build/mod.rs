//! Build: the plan's artifacts, one directory per application, written whole or not at all.
//!
//! The OCI image comes first (its digests name it everywhere else); then every other artifact is
//! one row of [`ARTIFACTS`], a writer in its own module that reads the plan and the built image
//! and writes one thing. Adding an output is one module and one row. An app is built into a
//! staging directory and renamed into place at the end, so an interrupted build never leaves an
//! `out/<app>/` that looks complete.

mod compose;
mod dockerfile;
pub mod hardening;
mod kubernetes;
mod launch;
pub(crate) mod layout;
pub mod linuxkit;
pub mod oci;
mod plan_file;
mod record;
mod report_files;
pub(crate) mod rpmdb;
mod runsh;
mod sbom;
mod secrets;
pub(crate) mod sparse;
pub(crate) mod volumes;

pub use crate::built::AppBuild;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Plan};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Options {
    /// `SOURCE_DATE_EPOCH`; default: the newest modification time of the files taken.
    pub source_date_epoch: Option<i64>,
    pub include_secrets: bool,
    /// The snapshot the plan was made from: the values of credential variables, which the plan
    /// names but never holds.
    pub snapshot: Option<crate::snapshot::Snapshot>,
    /// Run forms apply the app's system call profile (`--seccomp`).
    pub seccomp: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("app {app}: image: {message}")]
    Image { app: String, message: String },
    #[error("app {app}: {artifact}: cannot encode: {message}")]
    Encode {
        app: String,
        artifact: &'static str,
        message: String,
    },
    #[error("app {app}: cannot run: {message}")]
    Entrypoint { app: String, message: String },
    #[error("app {app}: report: {source}")]
    Report {
        app: String,
        source: crate::report::ReportError,
    },
}

/// What every artifact writer reads: the plan, the app, the built image, and where to write.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub app: &'a AppPlan,
    /// Where file contents come from (volumes and secrets are copied from it).
    pub host: &'a dyn Host,
    /// The staging directory the artifacts are written into.
    pub dir: &'a Path,
    /// The directory the app ends up in (`out/<app>`), as commands printed for the user name it.
    pub shown_dir: &'a Path,
    pub image: &'a oci::Written,
    pub opts: &'a Options,
}

impl Context<'_> {
    /// Writes `text` to `name` in the app's directory.
    fn write(&self, name: &str, text: &str) -> Result<(), BuildError> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|source| BuildError::Io { path, source })
    }

    fn io(&self, name: &str) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = self.dir.join(name);
        move |source| BuildError::Io { path, source }
    }

    fn encode(&self, artifact: &'static str) -> impl FnOnce(String) -> BuildError + '_ {
        move |message| BuildError::Encode {
            app: self.app.name.clone(),
            artifact,
            message,
        }
    }
}

/// An artifact writer: adds what it wrote about (findings, volume bytes) to the build record.
pub type Writer = fn(&Context, &mut AppBuild) -> Result<(), BuildError>;

/// Every artifact beside the image, in the order they are written: the build record and the
/// report come last, since they describe the others.
pub const ARTIFACTS: &[(&str, Writer)] = &[
    ("volumes/", volumes::write),
    ("secrets/", secrets::write),
    ("run.sh", runsh::write),
    ("Dockerfile", dockerfile::write),
    ("compose.yaml", compose::write),
    ("data-image/", kubernetes::data_image::write),
    ("kubernetes/", kubernetes::write),
    ("seccomp.json", hardening::write),
    ("sbom.cdx.json", sbom::write),
    ("linuxkit.yml", linuxkit::write),
    ("plan.yaml", plan_file::write),
    ("build.json", record::write),
    ("report.html", report_files::write),
];

pub fn build_app(
    plan: &Plan,
    app: &AppPlan,
    host: &dyn Host,
    out: &Path,
    opts: &Options,
) -> Result<AppBuild, BuildError> {
    let app = &*crate::harden::applied(app, opts.seccomp);
    let final_dir = out.join(app.slug());
    let staging = out.join(format!(".{}.partial", app.slug()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = build_into(plan, app, host, &staging, &final_dir, opts);
    let mut built = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
    }
    std::fs::rename(&staging, &final_dir).map_err(io(&final_dir))?;
    built.dir = final_dir;
    Ok(built)
}

fn build_into(
    plan: &Plan,
    app: &AppPlan,
    host: &dyn Host,
    dir: &Path,
    shown_dir: &Path,
    opts: &Options,
) -> Result<AppBuild, BuildError> {
    let layout = layout::layout(app, host, opts.include_secrets);
    let img = &app.image;
    launch::check(
        &img.entrypoint,
        &img.env,
        &img.workdir,
        &layout.entries,
        host,
    )
    .map_err(|message| BuildError::Entrypoint {
        app: app.name.clone(),
        message,
    })?;
    let created = opts.source_date_epoch.unwrap_or(layout.newest_mtime);
    let mut entries = layout.entries;
    let for_scanners = scanner_records(plan, app, host, &entries, created, opts)?;
    entries.extend(for_scanners);
    let referrers = [oci::Referrer {
        artifact_type: sbom::MEDIA_TYPE.to_string(),
        title: "sbom.cdx.json".to_string(),
        bytes: sbom::document(app, &plan.source, opts.include_secrets, created)
            .map_err(|message| BuildError::Encode {
                app: app.name.clone(),
                artifact: "sbom.cdx.json",
                message,
            })?
            .into_bytes(),
    }];
    let content_bytes = content_size(host, &entries);
    let config = image_config(plan, app, created, opts);
    let image_err = |e: oci::OciError| BuildError::Image {
        app: app.name.clone(),
        message: e.to_string(),
    };
    let entry_count = entries.len();
    let image =
        oci::write_image_with(entries, &config, &referrers, host, dir).map_err(image_err)?;
    let entries = entry_count;
    let mut findings = layout.findings;
    findings.extend(
        image
            .warnings
            .iter()
            .map(|w| Finding::warning(&app.name, w.clone())),
    );
    let mut record = AppBuild {
        app: app.name.clone(),
        dir: dir.to_path_buf(),
        image: app.image.name.clone(),
        manifest_digest: image.manifest_digest.clone(),
        config_digest: image.config_digest.clone(),
        layer_digest: image.layer_digest.clone(),
        layer_bytes: image.layer_size,
        content_bytes,
        entries,
        volume_bytes: 0,
        created,
        findings,
    };
    let cx = Context {
        plan,
        app,
        host,
        dir,
        shown_dir,
        image: &image,
        opts,
    };
    for (_, write) in ARTIFACTS {
        write(&cx, &mut record)?;
    }
    Ok(record)
}

/// The files scanners read (package records, the SBOM), as image entries owned by root.
fn scanner_records(
    plan: &Plan,
    app: &AppPlan,
    host: &dyn Host,
    entries: &[oci::Entry],
    created: i64,
    opts: &Options,
) -> Result<Vec<oci::Entry>, BuildError> {
    let paths: std::collections::BTreeSet<String> = entries
        .iter()
        .map(|e| e.path.to_string_lossy().into_owned())
        .collect();
    let records = sbom::image_records(
        app,
        &plan.source,
        host,
        &paths,
        opts.include_secrets,
        created,
    )
    .map_err(|message| BuildError::Encode {
        app: app.name.clone(),
        artifact: "sbom.cdx.json",
        message,
    })?;
    Ok(records
        .into_iter()
        .map(|r| oci::Entry {
            path: PathBuf::from(r.path),
            kind: oci::EntryKind::File(oci::Source::Bytes(r.bytes)),
            mode: 0o644,
            uid: 0,
            gid: 0,
        })
        .collect())
}

/// The image's environment; credential variables only with `--include-secrets`.
fn image_env(app: &AppPlan, opts: &Options) -> Vec<String> {
    let mut env = app.image.env.clone();
    if opts.include_secrets {
        for s in &app.secrets {
            if let Some(key) = s.path.strip_prefix("env:") {
                if let Some(v) = secrets::env_value(app, opts.snapshot.as_ref(), key) {
                    env.push(format!("{key}={v}"));
                }
            }
        }
    }
    env
}

fn content_size(host: &dyn Host, entries: &[oci::Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match &e.kind {
            oci::EntryKind::File(oci::Source::Host(p)) => host.lstat(p).map_or(0, |m| m.len()),
            oci::EntryKind::File(oci::Source::Bytes(b)) => b.len() as u64,
            _ => 0,
        })
        .sum()
}

fn image_config(plan: &Plan, app: &AppPlan, created: i64, opts: &Options) -> oci::ImageConfig {
    let img = &app.image;
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.title".to_string(),
        app.name.clone(),
    );
    annotations.insert(
        "org.opencontainers.image.version".to_string(),
        app.version.clone(),
    );
    annotations.insert(
        "io.liftkit.source.host".to_string(),
        plan.source.hostname.clone(),
    );
    annotations.insert("io.liftkit.source.os".to_string(), plan.source.os.clone());
    annotations.insert("io.liftkit.app".to_string(), app.name.clone());
    annotations.insert("io.liftkit.analyzer".to_string(), app.analyzer.clone());
    let labels = annotations.clone();
    oci::ImageConfig {
        name: img.name.clone(),
        entrypoint: img.launch(),
        cmd: img.cmd.clone(),
        user: format!("{}:{}", img.uid, img.gid),
        env: image_env(app, opts),
        working_dir: img.workdir.clone(),
        exposed_ports: img.ports.clone(),
        volumes: app
            .volumes
            .iter()
            .filter(|v| v.kind == crate::plan::VolumeKind::Volume)
            .map(|v| v.path.clone())
            .collect(),
        stop_signal: img.stop_signal.clone(),
        labels,
        annotations,
        created,
        history: format!(
            "liftkit {} lifted {} from {}",
            env!("CARGO_PKG_VERSION"),
            app.name,
            plan.source.hostname
        ),
    }
}
