//! Secrets leave the image and go to `out/<app>/secrets/` for the operator: one file per secret
//! file (mode 0600, the host's owner, so the app's user can still read it when mounted) and
//! `env` with the credential variables, mounted and passed by run.sh.

use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{volume_name, AppPlan};
use crate::snapshot::Snapshot;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The name of the environment file run.sh passes with `--env-file`.
pub const ENV_FILE: &str = "env";

/// `secrets/`, or (with `--include-secrets`) a warning for each secret baked into the image.
pub fn write(cx: &super::Context, record: &mut super::AppBuild) -> Result<(), super::BuildError> {
    if cx.opts.include_secrets {
        for s in &cx.app.secrets {
            record.findings.push(Finding::warning(
                &s.path,
                format!("{} baked into the image (--include-secrets)", s.kind),
            ));
        }
        return Ok(());
    }
    let findings = copy_out(
        cx.app,
        cx.host,
        cx.opts.snapshot.as_ref(),
        &cx.dir.join("secrets"),
    )
    .map_err(cx.io("secrets"))?;
    record.findings.extend(findings);
    Ok(())
}

fn copy_out(
    app: &AppPlan,
    host: &dyn Host,
    snapshot: Option<&Snapshot>,
    dir: &Path,
) -> io::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    if app.secrets.is_empty() {
        return Ok(findings);
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let mut env = String::new();
    for s in &app.secrets {
        if let Some(key) = s.path.strip_prefix("env:") {
            match env_value(app, snapshot, key) {
                Some(v) => env.push_str(&format!("{key}={v}\n")),
                None => {
                    env.push_str(&format!("{key}=\n"));
                    findings.push(Finding::warning(
                        format!("secrets/{ENV_FILE}"),
                        format!("{key}: value unknown (the snapshot is not at hand); fill it in before running"),
                    ));
                }
            }
            continue;
        }
        let target = dir.join(volume_name(&s.path));
        match copy_private(host, Path::new(&s.path), &target) {
            Ok(()) => {}
            Err(e) => findings.push(Finding::warning(
                &s.path,
                format!("secret not copied for the operator: {e}"),
            )),
        }
    }
    if !env.is_empty() {
        write_private(&dir.join(ENV_FILE), env.as_bytes())?;
    }
    Ok(findings)
}

/// The variable's value in the app's main process, from the snapshot the plan was made from.
pub fn env_value(app: &AppPlan, snapshot: Option<&Snapshot>, key: &str) -> Option<String> {
    let pid = app.processes.first()?.pid;
    snapshot?.process(pid)?.env(key).map(str::to_string)
}

fn copy_private(host: &dyn Host, path: &Path, target: &Path) -> io::Result<()> {
    let real = host.real_path(path)?;
    let meta = host.lstat(&real)?;
    let mut from = host.open_resolved(&real)?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(target)?;
    io::copy(&mut from, &mut to)?;
    // Owned as on the host: a service that drops to its own user reads its key through the mount.
    let _ = std::os::unix::fs::chown(target, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}
