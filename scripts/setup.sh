#!/usr/bin/env bash
# What running a lift needs on a Debian or Ubuntu machine: a container engine to run and verify
# the images (podman, with runc). Run as root; idempotent. `--host-image` adds what
# `liftkit host-image` and run-qemu.sh use (qemu, mkfs.ext4). The test stack (Tomcat, PostgreSQL,
# Chromium, …) is .ci/setup's, not this.
#
# Then it says which ENGINE and ENGINE_RUN_FLAGS this host needs for run.sh and verify, if any.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs packages; liftkit itself reads every process as root)" >&2
  exit 2
fi
pkgs=(podman runc)
case "${1:-}" in
  --host-image) pkgs+=(qemu-system-x86 e2fsprogs) ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--host-image]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# podman's defaults fail on some hosts: crun and the systemd cgroup manager on hybrid (v1)
# cgroups, and its default rlimits above the host's hard limits (`error setting rlimit type 7`).
engine=podman
flags=
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
  engine="podman --runtime runc --cgroup-manager=cgroupfs"
fi
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 1048576 ]; then
  flags="--ulimit nofile=$nofile:$nofile"
fi
# The limit runc may set is below the shell's on such hosts (not computable from here): 4096
# processes is enough for the applications liftkit lifts and works where podman's default fails.
if [ "$nproc" != unlimited ] && [ "$nproc" -lt 4194304 ]; then
  [ "$nproc" -le 4096 ] || nproc=4096
  flags="${flags:+$flags }--ulimit nproc=$nproc:$nproc"
fi
echo "ready: podman $(podman --version | awk '{print $NF}')"
if [ "$engine" != podman ] || [ -n "$flags" ]; then
  echo "this host needs, for run.sh, verify and the wizard:"
  echo "  export ENGINE=\"$engine\""
  [ -z "$flags" ] || echo "  export ENGINE_RUN_FLAGS=\"$flags\""
fi
