#!/usr/bin/env bash
# Prints the path of a crun binary for the host-image tests. An installed crun is used as it is;
# otherwise Debian's crun package is downloaded (apt, no install) and unpacked with dpkg-deb -x
# into a cache directory (default /var/tmp/liftkit-crun), once. It is not installed on purpose:
# podman would take an installed crun as its default runtime, and crun fails on hosts with hybrid
# cgroups, as this kind of build machine has. Its libraries (libyajl2 among them) must be
# installed: host-image copies them from this machine.
set -euo pipefail
cache=${LIFTKIT_CRUN_CACHE:-/var/tmp/liftkit-crun}
for c in /usr/bin/crun "$cache/usr/bin/crun"; do
  if [ -x "$c" ]; then echo "$c"; exit 0; fi
done
mkdir -p "$cache/download"
cd "$cache/download"
apt-get download crun >/dev/null 2>&1 || { apt-get update -qq && apt-get download crun >/dev/null; }
dpkg-deb -x crun_*.deb "$cache"
rm -f crun_*.deb
if [ -x "$cache/usr/bin/crun" ]; then echo "$cache/usr/bin/crun"; exit 0; fi
echo "test-crun.sh: the crun package unpacked into $cache has no usr/bin/crun" >&2
exit 1
