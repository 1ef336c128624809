//! `plan.yaml` beside the image: the plan of this one app, so the directory rebuilds alone.

use super::{AppBuild, BuildError, Context};
use crate::plan::Plan;

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let app_plan = Plan {
        schema: cx.plan.schema,
        source: cx.plan.source.clone(),
        exclude: cx.plan.exclude.clone(),
        apps: vec![cx.app.clone()],
    };
    let text = crate::plan::to_yaml(&app_plan).map_err(cx.encode("plan.yaml"))?;
    cx.write("plan.yaml", &text)
}
