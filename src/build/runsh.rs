//! `run.sh`: starts the lifted image with its volumes, tmpfs, secrets and network, in podman or
//! docker, without the user having to read the plan.

use crate::plan::{volume_name, AppPlan, VolumeKind};

pub fn render(app: &AppPlan, config_digest: &str, secrets_baked: bool) -> String {
    let mut mounts = String::new();
    for v in &app.volumes {
        match v.kind {
            VolumeKind::Volume => mounts.push_str(&format!(
                "  -v \"$here/volumes/{}:{}\" \\\n",
                volume_name(&v.path),
                v.path
            )),
            VolumeKind::Tmpfs => mounts.push_str(&format!("  --tmpfs {} \\\n", quote(&v.path))),
        }
    }
    for s in app.secrets.iter().filter(|_| !secrets_baked) {
        if s.path.starts_with("env:") {
            continue;
        }
        mounts.push_str(&format!(
            "  -v \"$here/secrets/{}:{}:ro\" \\\n",
            volume_name(&s.path),
            s.path
        ));
    }
    if !secrets_baked && app.secrets.iter().any(|s| s.path.starts_with("env:")) {
        mounts.push_str(&format!(
            "  --env-file \"$here/secrets/{}\" \\\n",
            super::secrets::ENV_FILE
        ));
    }
    let stop = app
        .image
        .stop_signal
        .as_deref()
        .map(|s| format!("  --stop-signal {s} \\\n"))
        .unwrap_or_default();
    format!(
        r#"#!/bin/sh
# Runs the lifted {name} image ({image}).
#   ENGINE            container engine, default podman, else docker; may carry global flags
#   ENGINE_RUN_FLAGS  extra flags for `run`, after liftkit's own (e.g. -d, --ulimit …, --rm=false)
#   NETWORK           network mode, default {network} (as the application ran on the source host)
#   NAME              container name, default liftkit-{slug}
# Arguments after run.sh replace the image's command arguments.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${{ENGINE:-}}" ]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif command -v docker >/dev/null 2>&1; then ENGINE=docker
  else echo "run.sh: neither podman nor docker is installed; set ENGINE" >&2; exit 127
  fi
fi
IMAGE={image_q}
# Load unless the engine already holds this very image (same config digest), not merely the tag.
loaded=$($ENGINE image inspect --format '{{{{.Id}}}}' "$IMAGE" 2>/dev/null || true)
case "$loaded" in
  *{config_hex}*) ;;
  *) $ENGINE load -i "$here/image.tar" >/dev/null ;;
esac
# shellcheck disable=SC2086 # ENGINE and ENGINE_RUN_FLAGS are word lists on purpose
exec $ENGINE run --rm --name "${{NAME:-liftkit-{slug}}}" --network "${{NETWORK:-{network}}}" \
{stop}{mounts}  ${{ENGINE_RUN_FLAGS:-}} "$IMAGE" "$@"
"#,
        name = app.name,
        image = app.image.name,
        image_q = quote(&app.image.name),
        network = app.image.network,
        slug = app.slug(),
        config_hex = config_digest.trim_start_matches("sha256:"),
    )
}

/// Single-quotes for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
