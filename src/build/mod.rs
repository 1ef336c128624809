//! Build: the plan's artifacts, one directory per application, written whole or not at all.
//!
//! Each artifact is one module reading the plan: the OCI image, run.sh, populated volumes, the
//! build record. An app is built into a staging directory and renamed into place at the end, so
//! an interrupted build never leaves an `out/<app>/` that looks complete.

mod companions;
pub(crate) mod layout;
pub mod linuxkit;
pub mod oci;
mod pg_basebackup;
mod runsh;
mod sbom;
mod secrets;
pub(crate) mod sparse;
pub(crate) mod volumes;

use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Plan};
use serde::Serialize;
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
    #[error("app {app}: report: {source}")]
    Report {
        app: String,
        source: crate::report::ReportError,
    },
}

/// What one app's build produced: printed as the summary, written as `build.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AppBuild {
    pub app: String,
    pub dir: PathBuf,
    pub image: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    /// Bytes of the compressed layer and of the files it holds.
    pub layer_bytes: u64,
    pub content_bytes: u64,
    pub entries: usize,
    pub volume_bytes: u64,
    pub created: i64,
    pub findings: Vec<Finding>,
}

pub fn build_app(
    plan: &Plan,
    app: &AppPlan,
    host: &dyn Host,
    out: &Path,
    opts: &Options,
) -> Result<AppBuild, BuildError> {
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
    let result = build_into(plan, app, host, &staging, opts);
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
    opts: &Options,
) -> Result<AppBuild, BuildError> {
    let io = |path: PathBuf| move |source| BuildError::Io { path, source };
    let layout = layout::layout(app, host, opts.include_secrets);
    let created = opts.source_date_epoch.unwrap_or(layout.newest_mtime);
    let entries = layout.entries.len();
    let content_bytes = content_size(host, &layout.entries);
    let config = image_config(plan, app, created, opts);
    let written =
        oci::write_image(layout.entries, &config, host, dir).map_err(|e| BuildError::Image {
            app: app.name.clone(),
            message: e.to_string(),
        })?;
    let mut findings = layout.findings;
    findings.extend(
        written
            .warnings
            .iter()
            .map(|w| Finding::warning(&app.name, w.clone())),
    );
    let (volume_bytes, volume_findings) =
        volumes::populate(app, host, &dir.join("volumes")).map_err(io(dir.join("volumes")))?;
    findings.extend(volume_findings);
    if opts.include_secrets {
        for s in &app.secrets {
            findings.push(Finding::warning(
                &s.path,
                format!("{} baked into the image (--include-secrets)", s.kind),
            ));
        }
    } else {
        let secret_findings =
            secrets::write(app, host, opts.snapshot.as_ref(), &dir.join("secrets"))
                .map_err(io(dir.join("secrets")))?;
        findings.extend(secret_findings);
    }
    let run = dir.join("run.sh");
    std::fs::write(
        &run,
        runsh::render(app, &written.config_digest, opts.include_secrets),
    )
    .map_err(io(run.clone()))?;
    set_mode(&run, 0o755).map_err(io(run))?;
    for (name, text) in [
        (
            "Dockerfile",
            companions::dockerfile(app, &written.layer_digest),
        ),
        (
            "compose.yaml",
            companions::compose(app, opts.include_secrets),
        ),
        ("kubernetes.yaml", companions::kubernetes(app)),
        (
            "sbom.cdx.json",
            sbom::cyclonedx(
                app,
                &plan.source,
                &written.manifest_digest,
                &crate::snapshot::collect::rfc3339(created.max(0) as u64),
            ),
        ),
    ] {
        std::fs::write(dir.join(name), text).map_err(io(dir.join(name)))?;
    }
    linuxkit::write(plan, app, dir, &dir.with_file_name(app.slug()))
        .map_err(io(dir.join(linuxkit::FILE_NAME)))?;
    let app_plan = Plan {
        schema: plan.schema,
        source: plan.source.clone(),
        apps: vec![app.clone()],
    };
    let plan_path = dir.join("plan.yaml");
    crate::plan::save(&app_plan, &plan_path).map_err(io(plan_path))?;
    let built = AppBuild {
        app: app.name.clone(),
        dir: dir.to_path_buf(),
        image: app.image.name.clone(),
        manifest_digest: written.manifest_digest,
        config_digest: written.config_digest,
        layer_digest: written.layer_digest,
        layer_bytes: written.layer_size,
        content_bytes,
        entries,
        volume_bytes,
        created,
        findings,
    };
    let record = dir.join("build.json");
    let json = serde_json::to_string_pretty(&built).unwrap_or_default() + "\n";
    std::fs::write(&record, json).map_err(io(record))?;
    crate::report::write_for_build(plan, app, &built, host, dir, opts.include_secrets).map_err(
        |source| BuildError::Report {
            app: app.name.clone(),
            source,
        },
    )?;
    Ok(built)
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

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
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
        entrypoint: img.entrypoint.clone(),
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
