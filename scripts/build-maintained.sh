#!/bin/sh
# Builds out/<app>/Dockerfile.maintained where no registry can be pulled from: the base it names
# (debian:<release>-slim) is made locally with debootstrap from the Debian archive apt uses,
# with the suites the official image lists (release, -updates, -security), then the Dockerfile
# is built on the host's network so its apt-get reaches the same archive.
#
#   scripts/build-maintained.sh out/nginx [TAG]
#
# ENGINE (default podman) may carry global flags; MIRROR overrides the archive; BUILD_ARGS are
# added to the build (e.g. "--build-arg VERSIONS=latest" where the host's exact versions have
# left the archive).
set -eu
app=${1:?usage: build-maintained.sh APP_DIR [TAG]}
tag=${2:-localhost/liftkit/maintained:test}
ENGINE=${ENGINE:-podman}
mirror=${MIRROR:-http://deb.debian.org/debian}
release=$(sed -n 's/^FROM debian:\(.*\)-slim$/\1/p' "$app/Dockerfile.maintained")
[ -n "$release" ] || { echo "build-maintained: no FROM debian:<release>-slim in $app" >&2; exit 2; }
base="docker.io/library/debian:$release-slim"
if ! $ENGINE image exists "$base"; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase "$release" "$root" "$mirror" >&2
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$root/etc/apt/sources.list"
  tar -C "$root" -c . | $ENGINE import - "$base" >/dev/null
fi
# shellcheck disable=SC2086 # ENGINE and BUILD_ARGS are word lists on purpose
$ENGINE build --network host ${BUILD_ARGS:-} -f "$app/Dockerfile.maintained" -t "$tag" "$app"
