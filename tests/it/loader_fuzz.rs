//! A bounded, seeded mutation fuzzer for the snapshot and plan loaders, for machines with only
//! a stable toolchain (cargo-fuzz needs nightly; see `scripts/fuzz-loaders.sh`). A real snapshot
//! of this host and the plan analyzed from it are mutated (bytes flipped, ranges cut, doubled
//! and moved, JSON and YAML tokens spliced in) and fed to the loaders: every input must give a
//! value or an error naming a line, never a panic. A panic fails the test with the seed and
//! iteration to replay. Regressions found are kept as fixed inputs below.
//!
//! `cargo test --test loader_fuzz` runs it for LOADER_FUZZ_SECS (default 20) seconds;
//! `scripts/fuzz-loaders.sh SECONDS SEED` runs it longer.

use crate::common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Tokens that change structure in JSON or YAML, and values at the edges of their types.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "-1",
    "0",
    "4294967296",
    "-2147483649",
    "18446744073709551616",
    "1e999",
    "-0.0",
    "NaN",
    "\n",
    "\n- ",
    "- ",
    ": ",
    "? ",
    "&a ",
    "*a",
    "!!binary ",
    "!!map ",
    "~",
    "|",
    ">",
    "---\n",
    "...\n",
    "'",
    "#",
    "%YAML 1.2\n",
    "\t",
    "\u{feff}",
    "é",
    "\u{fffd}",
    "<<: *a\n",
    "/..",
    "../",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(6) {
        if b.is_empty() {
            b.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
            continue;
        }
        let at = rng.below(b.len());
        match rng.below(7) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = b" \n:-{}[]\",'0aZ&*!|>#"[rng.below(20)],
            2 => {
                let end = (at + 1 + rng.below(256)).min(b.len());
                b.drain(at..end);
            }
            3 => {
                let end = (at + 1 + rng.below(512)).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, chunk);
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            5 => b.truncate(at),
            _ => {
                // Swap two lines: keys move out of their maps, items out of their lists.
                let lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
                if lines.len() > 2 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut owned: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                    owned.swap(i, j);
                    b = owned.join(&b'\n');
                }
            }
        }
    }
    b
}

/// Feeds one input to both loaders, as text (the loaders take what `read_to_string` gives).
fn feed(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    match liftkit::snapshot::parse(Path::new("fuzz.json"), &text) {
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match liftkit::plan::parse(Path::new("fuzz.yaml"), &text) {
        Ok(_) => {}
        Err(e) => assert!(e.to_string().starts_with("fuzz.yaml")),
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    run_ok(
        liftkit()
            .args(["collect", "--priority", "normal", "-o"])
            .arg(&snapshot),
    );
    let pid = std::process::id().to_string();
    let plan = dir.path().join("plan.yaml");
    let out = liftkit()
        .args(["analyze", "--priority", "normal", "--pid", &pid])
        .arg(&snapshot)
        .arg("-o")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let snap = std::fs::read(&snapshot).unwrap();
    // The whole snapshot is large; a slice keeps each iteration cheap while the structure stays.
    let mut small: serde_json::Value = serde_json::from_slice(&snap).unwrap();
    if let Some(p) = small["processes"].as_array_mut() {
        p.truncate(3);
    }
    if let Some(p) = small["packages"].as_array_mut() {
        p.truncate(3);
    }
    vec![
        (
            "snapshot".into(),
            serde_json::to_vec_pretty(&small).unwrap(),
        ),
        ("plan".into(), std::fs::read(&plan).unwrap()),
    ]
}

#[test]
fn loaders_never_panic_on_mutated_snapshots_and_plans() {
    let secs: u64 = std::env::var("LOADER_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("LOADER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6001);
    let seeds = seeds();
    for (_, s) in &seeds {
        feed(s); // the originals load
    }
    if let Err(e) = liftkit::plan::parse(Path::new("p"), std::str::from_utf8(&seeds[1].1).unwrap())
    {
        panic!(
            "the seed plan loads: {e}\n{}",
            String::from_utf8_lossy(&seeds[1].1)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut iterations = 0u64;
    let mut rng = Rng(seed);
    while Instant::now() < deadline {
        let (name, base) = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base);
        let caught = std::panic::catch_unwind(|| feed(&input));
        if caught.is_err() {
            let keep = std::env::temp_dir().join(format!("liftkit-fuzz-crash-{seed}-{iterations}"));
            let _ = std::fs::write(&keep, &input);
            panic!(
                "a loader panicked on a mutated {name} (seed {seed}, iteration {iterations}); \
                 input kept in {}",
                keep.display()
            );
        }
        iterations += 1;
    }
    eprintln!("{iterations} mutated snapshots and plans loaded in {secs}s (seed {seed}), no panic");
    assert!(iterations > 100, "the fuzzer ran: {iterations}");
}

/// Inputs that stress the parsers' own limits: each ends in an error naming a line. Found by
/// the fuzzer's seeds: 100,000 nested `[` kept the YAML scanner busy for 10 s (quadratic).
#[test]
fn pathological_inputs_end_in_errors() {
    let deep_flow = "[".repeat(100_000);
    let deep_block = "- ".repeat(20_000) + "x";
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = if i == 1 {
            "a".to_string()
        } else {
            format!("b{}", i - 1)
        };
        laughs.push_str(&format!(
            "b{i}: &b{i} [{}]\n",
            vec![format!("*{p}"); 10].join(", ")
        ));
    }
    for input in [
        &deep_flow,
        &deep_block,
        &laughs,
        &"\u{0}".repeat(1000),
        &String::new(),
    ] {
        let e = liftkit::snapshot::parse(Path::new("s.json"), input).unwrap_err();
        assert!(e.to_string().starts_with("s.json"), "{e}");
        let e = liftkit::plan::parse(Path::new("p.yaml"), input).unwrap_err();
        assert!(e.to_string().starts_with("p.yaml:"), "{e}");
    }
    let e = liftkit::plan::parse(Path::new("p.yaml"), &deep_flow)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("p.yaml:1:257: ") && e.contains("nested deeper than 256"),
        "{e}"
    );
    // Brackets in quoted strings and comments are text, not nesting.
    let text = format!("# {}\nschema: '{}'\n", "[".repeat(300), "[".repeat(300));
    let e = liftkit::plan::parse(Path::new("p.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(!e.contains("nested deeper"), "{e}");
}
