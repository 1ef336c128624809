//! `run.sh`: starts the lifted image with its volumes, tmpfs, secrets and network, in podman or
//! docker, without the user having to read the plan.

use crate::plan::{volume_name, AppPlan, VolumeKind};

pub fn write(cx: &super::Context, _: &mut super::AppBuild) -> Result<(), super::BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let text = render(cx.app, &cx.image.config_digest, cx.opts.include_secrets);
    cx.write("run.sh", &text)?;
    std::fs::set_permissions(
        cx.dir.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .map_err(cx.io("run.sh"))
}

pub fn render(app: &AppPlan, config_digest: &str, secrets_baked: bool) -> String {
    let mut mounts = String::new();
    for v in &app.volumes {
        match v.kind {
            VolumeKind::Volume => mounts.push_str(&format!(
                "  -v \"$volumes/{}:{}\" \\\n",
                volume_name(&v.path),
                v.path
            )),
            VolumeKind::Tmpfs if app.image.uid != 0 => mounts.push_str(&format!(
                "  --tmpfs {}\"$tmpfs_owner\" \\\n",
                quote(&v.path)
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
    // podman fills a tmpfs with the image directory's content and mode but leaves it root's: `U`
    // gives it to the image's user, as the directory was on the host. docker's tmpfs is 1777 and
    // knows no `U`.
    let tmpfs_owner =
        if app.image.uid != 0 && app.volumes.iter().any(|v| v.kind == VolumeKind::Tmpfs) {
            "case \"$ENGINE\" in *podman*) tmpfs_owner=:U ;; *) tmpfs_owner= ;; esac\n"
        } else {
            ""
        };
    let (harden_vars, harden) = hardening(app);
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
#   ENGINE_RUN_FLAGS  extra flags for `run`, after liftkit's own (e.g. -d, --ulimit …); with -d
#                     the container is kept when it stops, and a failed start prints its logs
#   NETWORK           network mode, default {network} (as the application ran on the source host)
#   NAME              container name, default liftkit-{slug}
#   VOLUMES           directory holding the volumes, default volumes/ beside this script
#                     (verify and the trial run give it a copy, so a test run leaves the data as built)
#   SECCOMP           system call profile, default {seccomp_default}
#                     (`default`: the engine's own profile)
# Arguments after run.sh replace the image's command arguments.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
volumes=${{VOLUMES:-$here/volumes}}
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
{tmpfs_owner}{harden_vars}name=${{NAME:-liftkit-{slug}}}
# Detached (-d in ENGINE_RUN_FLAGS), the container is kept when it stops, so a start that fails
# leaves its logs; at a terminal run.sh watches the first seconds and prints them. In the
# foreground the output is on the terminal, and the container goes when it stops.
case " ${{ENGINE_RUN_FLAGS:-}} " in
  *" -d "*|*" --detach "*|*" --detach=true "*) detached=yes; rm= ; launch= ;;
  *) detached=; rm=--rm; launch=exec ;;
esac
run() {{
  # shellcheck disable=SC2086 # ENGINE and ENGINE_RUN_FLAGS are word lists on purpose
  $launch $ENGINE run $rm --name "$name" --network "${{NETWORK:-{network}}}" \
{stop}{harden}{mounts}  ${{ENGINE_RUN_FLAGS:-}} "$IMAGE" "$@"
}}
[ -n "$detached" ] || run "$@"
run "$@" >/dev/null
if [ ! -t 2 ]; then
  echo "$name started (detached; kept when it stops: $ENGINE logs $name, $ENGINE rm $name)"
  exit 0
fi
for _ in 1 2 3 4 5; do
  sleep 1
  state=$($ENGINE inspect --format '{{{{.State.Status}}}}' "$name" 2>/dev/null || echo gone)
  case "$state" in
    running) continue ;;
    *)
      code=$($ENGINE inspect --format '{{{{.State.ExitCode}}}}' "$name" 2>/dev/null || echo "?")
      echo "run.sh: $name stopped at start (state $state, exit code $code); its last log lines:" >&2
      $ENGINE logs --tail 20 "$name" >&2 2>&1 || true
      echo "run.sh: the container is kept for a look: $ENGINE logs $name; remove it: $ENGINE rm $name" >&2
      exit 1 ;;
  esac
done
echo "$name started (detached; kept when it stops: $ENGINE rm $name removes it)"
"#,
        name = app.name,
        image = app.image.name,
        image_q = quote(&app.image.name),
        network = app.image.network,
        slug = app.slug(),
        config_hex = config_digest.trim_start_matches("sha256:"),
        seccomp_default = if app.hardening.seccomp {
            "seccomp.json beside this script (built with --seccomp)"
        } else {
            "`default`; seccomp.json beside this script is the app's own"
        },
    )
}

/// The hardening's shell set-up and its flags (read-only root, capabilities, no new
/// privileges, the profile).
fn hardening(app: &AppPlan) -> (String, String) {
    let h = &app.hardening;
    let mut vars = String::new();
    let mut flags: String = crate::harden::engine_flags(app)
        .iter()
        .map(|f| format!("  {f} \\\n"))
        .collect();
    if h.read_only {
        // podman mounts its own tmpfs on /run, /tmp and /var/tmp of a read-only container;
        // docker, compose and Kubernetes do not: every engine gets the plan's tmpfs alone.
        vars.push_str(
            "case \"$ENGINE\" in *podman*) ro_tmpfs=--read-only-tmpfs=false ;; *) ro_tmpfs= ;; esac\n",
        );
        flags.push_str("  $ro_tmpfs \\\n");
    }
    let default = if h.seccomp {
        "$here/seccomp.json"
    } else {
        "default"
    };
    vars.push_str(&format!(
        r#"seccomp=${{SECCOMP:-{default}}}
case "$seccomp" in
  default) seccomp_opt= ;;
  *) if [ ! -f "$seccomp" ]; then
       echo "run.sh: no system call profile at $seccomp (the trial run writes seccomp.json; SECCOMP=default runs under the engine's)" >&2
       exit 2
     fi
     seccomp_opt="--security-opt=seccomp=$seccomp" ;;
esac
"#
    ));
    flags.push_str("  ${seccomp_opt:+\"$seccomp_opt\"} \\\n");
    (vars, flags)
}

/// Single-quotes for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
