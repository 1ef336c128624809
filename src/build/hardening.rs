//! `seccomp.json`, the app's system call profile (from the calls its trial run made), and the
//! build's check of the read-only root: a place the app writes that the plan leaves on it is a
//! warning naming the path.

use super::{AppBuild, BuildError, Context};
use crate::findings::Finding;
use crate::harden::{placement, seccomp, PROFILE_FILE};

/// The build's warning while no trial has recorded the calls; the trial that writes the
/// profile withdraws it (`after_trial`).
const NO_PROFILE_YET: &str = "--seccomp: no system calls are known for the app yet (its trial \
                              run writes seccomp.json): run.sh refuses to start until the \
                              profile is there";

pub fn write(cx: &Context, record: &mut AppBuild) -> Result<(), BuildError> {
    let app = cx.app;
    record.findings.extend(placement::unplaced(app));
    let h = &app.hardening;
    if !h.syscalls.is_empty() {
        cx.write(PROFILE_FILE, &seccomp::profile(&app.name, &h.syscalls))?;
    } else if h.seccomp {
        record
            .findings
            .push(Finding::warning(&app.name, NO_PROFILE_YET));
    }
    Ok(())
}

/// Writes the profile into a built app's directory after its trial run recorded the calls.
pub fn write_profile(app: &crate::plan::AppPlan, dir: &std::path::Path) -> std::io::Result<()> {
    if app.hardening.syscalls.is_empty() {
        return Ok(());
    }
    crate::fsutil::write_atomic(
        &dir.join(PROFILE_FILE),
        seccomp::profile(&app.name, &app.hardening.syscalls).as_bytes(),
    )
}

/// After the trial recorded the calls and the places the app writes: the profile, the app's
/// plan.yaml and the report's Hardening section in its built directory, without a rebuild
/// (the image does not change). Once the profile is there, the build's warning that it is not
/// is withdrawn from the app's findings.
pub fn after_trial(
    plan: &crate::plan::Plan,
    app: &crate::plan::AppPlan,
    built: &mut AppBuild,
) -> std::io::Result<()> {
    let dir = &built.dir;
    write_profile(app, dir)?;
    if !app.hardening.syscalls.is_empty() {
        built.findings.retain(|f| f.message != NO_PROFILE_YET);
    }
    let app_plan = crate::plan::Plan {
        schema: plan.schema,
        source: plan.source.clone(),
        exclude: plan.exclude.clone(),
        apps: vec![app.clone()],
    };
    crate::plan::save(&app_plan, &dir.join("plan.yaml"))?;
    crate::report::set_hardening(dir, app, built).map_err(std::io::Error::other)?;
    Ok(())
}
