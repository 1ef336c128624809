#!/bin/sh
# Fuzz the snapshot and plan loaders for a bounded time.
#
#   scripts/fuzz-loaders.sh [SECONDS] [SEED]        (defaults: 60 s, seed 6001)
#
# With a nightly toolchain and cargo-fuzz installed, runs the cargo-fuzz targets snapshot_load
# and plan_load in fuzz/ for SECONDS in all. Otherwise (stable only, as on the build machines)
# it runs the in-process mutation fuzzer in tests/loader_fuzz.rs for SECONDS: a real snapshot of
# this host and a plan analyzed from it, mutated with a seeded PRNG and fed to both loaders; a
# panic fails the run and names the seed and iteration to replay. `cargo test` runs the same
# fuzzer for 20 s (LOADER_FUZZ_SECS).
set -eu
secs=${1:-60}
seed=${2:-6001}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
    per_target=$(( secs / 2 ))
    [ "$per_target" -ge 1 ] || per_target=1
    for target in snapshot_load plan_load; do
        echo "cargo-fuzz: $target for ${per_target}s"
        (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$per_target" -rss_limit_mb=2048 -seed="$seed")
    done
else
    echo "fuzz-loaders: no nightly toolchain with cargo-fuzz; running the stable mutation fuzzer for ${secs}s (seed $seed)" >&2
    LOADER_FUZZ_SECS="$secs" LOADER_FUZZ_SEED="$seed" \
        cargo test --test loader_fuzz -- --nocapture loaders_never_panic
fi
