#!/usr/bin/env bash
# Prints "VMLINUZ MODULES_DIR" of a Debian kernel for the host-image tests and benchmark.
# The machine's own kernel may have neither (a VM's host kernel): use an installed Debian kernel
# if there is one, else download linux-image-amd64's kernel package (apt, no install) and unpack
# it with dpkg-deb -x into a cache directory (default /var/tmp/liftkit-kernel), once.
set -euo pipefail
cache=${LIFTKIT_KERNEL_CACHE:-/var/tmp/liftkit-kernel}

usable() { # vmlinuz modules-dir
  [ -f "$1" ] && [ -f "$2/modules.dep" ] && [ -f "$2/kernel/drivers/net/virtio_net.ko" ]
}

for root in "$cache" ""; do
  for k in "$root"/boot/vmlinuz-*-amd64; do
    v=${k##*/vmlinuz-}
    if usable "$k" "$root/lib/modules/$v"; then echo "$k $root/lib/modules/$v"; exit 0; fi
  done
done

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
mkdir -p "$cache/download"
cd "$cache/download"
apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg" >/dev/null; }
dpkg-deb -x "$pkg"_*.deb "$cache"
rm -f "$pkg"_*.deb
for k in "$cache"/boot/vmlinuz-*-amd64; do
  v=${k##*/vmlinuz-}
  if usable "$k" "$cache/lib/modules/$v"; then echo "$k $cache/lib/modules/$v"; exit 0; fi
done
echo "test-kernel.sh: $pkg unpacked into $cache has no usable kernel and modules" >&2
exit 1
