#!/bin/sh
# Runs the lifted nginx image (localhost/liftkit/nginx:1.22.1-9-deb12u1).
#   ENGINE            container engine, default podman, else docker; may carry global flags
#   ENGINE_RUN_FLAGS  extra flags for `run`, after liftkit's own (e.g. -d, --ulimit …); with -d
#                     the container is kept when it stops, and a failed start prints its logs
#   NETWORK           network mode, default host (as the application ran on the source host)
#   NAME              container name, default liftkit-nginx
#   VOLUMES           directory holding the volumes, default volumes/ beside this script
#                     (verify and the trial run give it a copy, so a test run leaves the data as built)
#   SECCOMP           system call profile, default `default`; seccomp.json beside this script is the app's own
#                     (`default`: the engine's own profile)
# Arguments after run.sh replace the image's command arguments.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
volumes=${VOLUMES:-$here/volumes}
if [ -z "${ENGINE:-}" ]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif command -v docker >/dev/null 2>&1; then ENGINE=docker
  else echo "run.sh: neither podman nor docker is installed; set ENGINE" >&2; exit 127
  fi
fi
IMAGE='localhost/liftkit/nginx:1.22.1-9-deb12u1'
# Load unless the engine already holds this very image (same config digest), not merely the tag.
loaded=$($ENGINE image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
case "$loaded" in
  *08bff26e6357d6a1d4591f577bd3591bb7b29d118a358eb4fb21a86015aa5d20*) ;;
  *) $ENGINE load -i "$here/image.tar" >/dev/null ;;
esac
case "$ENGINE" in *podman*) ro_tmpfs=--read-only-tmpfs=false ;; *) ro_tmpfs= ;; esac
seccomp=${SECCOMP:-default}
case "$seccomp" in
  default) seccomp_opt= ;;
  *) if [ ! -f "$seccomp" ]; then
       echo "run.sh: no system call profile at $seccomp (the trial run writes seccomp.json; SECCOMP=default runs under the engine's)" >&2
       exit 2
     fi
     seccomp_opt="--security-opt=seccomp=$seccomp" ;;
esac
name=${NAME:-liftkit-nginx}
# Detached (-d in ENGINE_RUN_FLAGS), the container is kept when it stops, so a start that fails
# leaves its logs; at a terminal run.sh watches the first seconds and prints them. In the
# foreground the output is on the terminal, and the container goes when it stops.
case " ${ENGINE_RUN_FLAGS:-} " in
  *" -d "*|*" --detach "*|*" --detach=true "*) detached=yes; rm= ; launch= ;;
  *) detached=; rm=--rm; launch=exec ;;
esac
run() {
  # shellcheck disable=SC2086 # ENGINE and ENGINE_RUN_FLAGS are word lists on purpose
  $launch $ENGINE run $rm --name "$name" --network "${NETWORK:-host}" \
  --stop-signal SIGQUIT \
  --read-only \
  --cap-drop=ALL \
  --cap-add=CAP_NET_BIND_SERVICE \
  --cap-add=CAP_SETGID \
  --cap-add=CAP_SETUID \
  --security-opt=no-new-privileges \
  $ro_tmpfs \
  ${seccomp_opt:+"$seccomp_opt"} \
  --tmpfs '/run' \
  --tmpfs '/tmp' \
  --tmpfs '/var/lib/nginx' \
  ${ENGINE_RUN_FLAGS:-} "$IMAGE" "$@"
}
[ -n "$detached" ] || run "$@"
run "$@" >/dev/null
if [ ! -t 2 ]; then
  echo "$name started (detached; kept when it stops: $ENGINE logs $name, $ENGINE rm $name)"
  exit 0
fi
for _ in 1 2 3 4 5; do
  sleep 1
  state=$($ENGINE inspect --format '{{.State.Status}}' "$name" 2>/dev/null || echo gone)
  case "$state" in
    running) continue ;;
    *)
      code=$($ENGINE inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null || echo "?")
      echo "run.sh: $name stopped at start (state $state, exit code $code); its last log lines:" >&2
      $ENGINE logs --tail 20 "$name" >&2 2>&1 || true
      echo "run.sh: the container is kept for a look: $ENGINE logs $name; remove it: $ENGINE rm $name" >&2
      exit 1 ;;
  esac
done
echo "$name started (detached; kept when it stops: $ENGINE rm $name removes it)"
