//! A bounded, seeded mutation fuzzer for the ELF parser, the ld.so.cache parser and the
//! resolver, for machines with only a stable toolchain (cargo-fuzz needs nightly; see
//! `scripts/fuzz-elf.sh`). Real ELF files and the real ld.so.cache are mutated (bit flips,
//! interesting integers in the headers, truncation, spliced chunks) and fed to everything that
//! parses; a panic fails the test and prints the seed and iteration to replay.
//!
//! `cargo test --test elf_fuzz` runs a short smoke pass; the long run is
//! `ELF_FUZZ_SECS=300 ELF_FUZZ_SEED=42 cargo test --release --test elf_fuzz -- --ignored`.

use crate::common::Rng;
use std::path::Path;
use std::time::{Duration, Instant};

use liftkit::elf::ldcache::LdCache;
use liftkit::elf::{object, symbols, LoaderEnv, ResolveOptions, Resolver};

const INTERESTING: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    u64::MAX,
    1 << 32,
    1 << 62,
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        // Most of the structure lives in the first pages; aim there more often.
        let hot = if rng.below(4) > 0 {
            b.len().min(8192)
        } else {
            b.len()
        };
        if hot == 0 {
            break;
        }
        let at = rng.below(hot);
        match rng.below(5) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = rng.next() as u8,
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let n = [1, 2, 4, 8][rng.below(4)].min(b.len() - at);
                b[at..at + n].copy_from_slice(&v[..n]);
            }
            3 => b.truncate(at),
            _ => {
                let from = rng.below(b.len());
                let len = rng.below(64).min(b.len() - from).min(b.len() - at);
                let chunk = b[from..from + len].to_vec();
                b[at..at + len].copy_from_slice(&chunk);
            }
        }
    }
    b
}

fn corpus() -> Vec<Vec<u8>> {
    [
        "/usr/bin/true",
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libpthread.so.0",
    ]
    .iter()
    .filter_map(|p| std::fs::read(p).ok())
    .map(|mut b| {
        // Keep iterations fast: the loader-relevant parts are at the front of small files.
        b.truncate(256 * 1024);
        b
    })
    .collect()
}

fn fuzz(seed: u64, budget: Duration, max_iters: u64) -> u64 {
    let corpus = corpus();
    assert!(!corpus.is_empty(), "no corpus files");
    let cache = std::fs::read("/etc/ld.so.cache").unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in [
        "bin",
        "lib/x86_64-linux-gnu",
        "usr/lib/x86_64-linux-gnu",
        "etc",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut iters = 0;
    while start.elapsed() < budget && iters < max_iters {
        let base = &corpus[rng.below(corpus.len())];
        let prog = mutate(&mut rng, base);
        let other = rng.below(corpus.len());
        let lib = mutate(&mut rng, &corpus[other]);
        let t = Instant::now();
        let ctx = format!("seed {seed} iteration {iters}");
        let _ = object::parse(&prog[..]);
        let _ = symbols::imported(&prog[..]);
        if !cache.is_empty() && iters % 4 == 0 {
            let _ = LdCache::parse(&mutate(&mut rng, &cache));
        }
        std::fs::write(root.join("bin/p"), &prog).unwrap();
        std::fs::write(root.join("lib/x86_64-linux-gnu/libc.so.6"), &lib).unwrap();
        std::fs::write(root.join("lib/x86_64-linux-gnu/libz.so.1"), &lib).unwrap();
        let r = Resolver::new(
            &liftkit::host::at(root),
            ResolveOptions { cpu_level: Some(3) },
        );
        let res = r.resolve(Path::new("/bin/p"), &LoaderEnv::default());
        let _ = r.dlopen_evidence(Path::new("/bin/p"));
        assert!(res.libraries.len() < 5000, "{ctx}: unbounded result");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{ctx}: took {:?}",
            t.elapsed()
        );
        iters += 1;
    }
    iters
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutation_smoke() {
    let n = fuzz(1, Duration::from_secs(20), 300);
    assert!(n > 0);
}

#[test]
#[ignore = "long-running fuzz pass; run via scripts/fuzz-elf.sh"]
fn mutation_fuzz() {
    let seed = env_u64("ELF_FUZZ_SEED", 0x5eed);
    let secs = env_u64("ELF_FUZZ_SECS", 60);
    let n = fuzz(seed, Duration::from_secs(secs), u64::MAX);
    eprintln!("elf fuzz: {n} iterations in {secs}s with seed {seed}, no panic");
}
