//! `Dockerfile`: rebuilds the image from its own layer.

use super::{AppBuild, BuildError, Context};
use crate::plan::{AppPlan, VolumeKind};

pub fn write(cx: &Context, _: &mut AppBuild) -> Result<(), BuildError> {
    let text = dockerfile(cx.app, &cx.image.layer_digest).map_err(cx.encode("Dockerfile"))?;
    cx.write("Dockerfile", &text)
}

/// `Dockerfile`: `FROM scratch` plus the very layer liftkit built, so `docker build` gives the
/// same file tree without pulling anything.
fn dockerfile(app: &AppPlan, layer_digest: &str) -> Result<String, String> {
    let img = &app.image;
    let json = |v: &[String]| serde_json::to_string(v).map_err(|e| e.to_string());
    let mut out = format!(
        "# Rebuilds the lifted {name} image from its own layer (no base image, nothing pulled).\n\
         FROM scratch\nADD oci/blobs/sha256/{layer} /\n",
        name = app.name,
        layer = layer_digest.trim_start_matches("sha256:"),
    );
    for kv in &img.env {
        out.push_str(&format!("ENV {}\n", shell_env(kv)?));
    }
    for p in &img.ports {
        out.push_str(&format!("EXPOSE {p}\n"));
    }
    for v in app.volumes.iter().filter(|v| v.kind == VolumeKind::Volume) {
        out.push_str(&format!(
            "VOLUME {}\n",
            json(std::slice::from_ref(&v.path))?
        ));
    }
    out.push_str(&format!(
        "WORKDIR {}\nUSER {}:{}\n",
        img.workdir, img.uid, img.gid
    ));
    if let Some(s) = &img.stop_signal {
        out.push_str(&format!("STOPSIGNAL {s}\n"));
    }
    out.push_str(&format!("ENTRYPOINT {}\n", json(&img.launch())?));
    if !img.cmd.is_empty() {
        out.push_str(&format!("CMD {}\n", json(&img.cmd)?));
    }
    Ok(out)
}

fn shell_env(kv: &str) -> Result<String, String> {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    let quoted = serde_json::to_string(v).map_err(|e| e.to_string())?;
    Ok(format!("{k}={quoted}"))
}
