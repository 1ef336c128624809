//! `report.html`, `report.md` and `report.json`: the engagement report of this build.

use super::{AppBuild, BuildError, Context};

pub fn write(cx: &Context, record: &mut AppBuild) -> Result<(), BuildError> {
    crate::report::write_for_build(
        cx.plan,
        cx.app,
        record,
        cx.host,
        cx.dir,
        cx.opts.include_secrets,
    )
    .map(|_| ())
    .map_err(|source| BuildError::Report {
        app: cx.app.name.clone(),
        source,
    })
}
