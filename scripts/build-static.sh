#!/usr/bin/env bash
# Builds liftkit statically linked against glibc (crt-static), so one binary runs on old servers
# whatever their C library: nothing is loaded at run time. Prints the binary's path.
#
#   scripts/build-static.sh          → target/static/x86_64-unknown-linux-gnu/release/liftkit
#
# --target keeps RUSTFLAGS away from build scripts and proc-macros, which must stay dynamic.
# The linker warns that getpwnam and friends still want glibc's NSS modules at run time:
# liftkit reads /etc/passwd and /etc/group itself and never calls them.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${LIFTKIT_STATIC_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/static}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --target "$target" --bin liftkit >&2
echo "$CARGO_TARGET_DIR/$target/release/liftkit"
