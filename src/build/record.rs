//! `build.json`: the build record (digests, sizes, findings), as the summary prints it.

use super::{AppBuild, BuildError, Context};

pub fn write(cx: &Context, record: &mut AppBuild) -> Result<(), BuildError> {
    let json =
        serde_json::to_string_pretty(record).map_err(|e| cx.encode("build.json")(e.to_string()))?;
    cx.write("build.json", &(json + "\n"))
}
