#!/bin/sh
# Fuzz the ELF resolver for a bounded time.
#
#   scripts/fuzz-elf.sh [SECONDS] [SEED]        (defaults: 300 s, seed 24301)
#
# With a nightly toolchain and cargo-fuzz installed, runs each cargo-fuzz target in fuzz/ for
# SECONDS. Otherwise (stable only, as on the build machines) it runs the in-process mutation
# fuzzer in tests/elf_fuzz.rs instead: real ELF files and the real ld.so.cache mutated with a
# seeded PRNG and fed to the parser, the cache reader and the resolver for SECONDS; a panic
# fails the run and names the seed and iteration to replay.
set -eu
secs=${1:-300}
seed=${2:-24301}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
    per_target=$(( secs / 3 ))
    [ "$per_target" -ge 1 ] || per_target=1
    for target in elf_object ld_cache elf_resolve; do
        echo "cargo-fuzz: $target for ${per_target}s"
        (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$per_target" -rss_limit_mb=2048 -seed="$seed")
    done
else
    echo "fuzz-elf: no nightly toolchain with cargo-fuzz; running the stable mutation fuzzer for ${secs}s (seed $seed)" >&2
    ELF_FUZZ_SECS="$secs" ELF_FUZZ_SEED="$seed" \
        cargo test --release --test elf_fuzz -- --ignored --nocapture mutation_fuzz
fi
