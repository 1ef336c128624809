//! Every artifact of every sample host, golden: `samples/<host>/plan.golden.yaml` (itself golden
//! against the sample's snapshot in `fixtures.rs`) built with a fixed `SOURCE_DATE_EPOCH`, and
//! what comes out compared with `tests/golden/samples/<host>/`: the build's CLI output, each text
//! artifact whole (Dockerfiles, compose, Kubernetes, SBOM, linuxkit.yml, run.sh, reports,
//! build.json, the OCI index), and `files.txt`, every output file's mode, size and digest, so
//! the image is proven the same byte for byte. `LIFTKIT_BLESS=1` rewrites them; review the
//! change with `git diff tests/golden/samples`.

use crate::common::*;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Outputs that are not liftkit's text (an image and what it holds, here or in a data image's
/// directory; a volume's seed, the host's own data): listed in files.txt with their digest only.
fn binary(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.contains(&"rootfs")
        || parts.get(1) == Some(&"volumes")
        || parts.windows(2).any(|w| w == ["oci", "blobs"])
        || matches!(parts.last(), Some(&("image.tar" | "liftkit-probe")))
}

fn check(sample: &str) {
    let tmp = public_tempdir();
    let d = tmp.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The plan names its source root relative to itself (`samples/<host>/root`).
    std::os::unix::fs::symlink(repo.join("samples"), d.join("samples")).unwrap();
    std::fs::copy(
        repo.join(format!("samples/{sample}/plan.golden.yaml")),
        d.join("plan.yaml"),
    )
    .unwrap();
    let golden = format!("tests/golden/samples/{sample}");
    if blessing() {
        let _ = std::fs::remove_dir_all(repo.join(&golden));
    }
    let cli = run_for_golden(
        liftkit()
            .current_dir(d)
            .args(["build", "plan.yaml", "-o", "out"])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
        "build plan.yaml -o out",
        &[(&regex::escape(&d.to_string_lossy()), "[TMP]")],
    );
    let mut differ: Vec<String> = golden_diff(&format!("{golden}/build.txt"), &cli)
        .into_iter()
        .collect();
    let mut manifest = String::new();
    let mut expected = vec!["build.txt".to_string(), "files.txt".to_string()];
    let out = d.join("out");
    for entry in walkdir::WalkDir::new(&out).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&out).unwrap().to_string_lossy();
        let bytes = std::fs::read(entry.path()).unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
        let digest = hex::encode(Sha256::digest(&bytes));
        let _ = writeln!(manifest, "{rel} {mode:04o} {} sha256:{digest}", bytes.len());
        if binary(&rel) {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap_or_else(|_| panic!("{rel}: not UTF-8 text"));
        differ.extend(golden_diff(&format!("{golden}/{rel}"), &text));
        expected.push(rel.into_owned());
    }
    differ.extend(golden_diff(&format!("{golden}/files.txt"), &manifest));
    // A golden file no output matches any more is stale: the artifact was renamed or dropped.
    let stale: Vec<String> = walkdir::WalkDir::new(repo.join(&golden))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(repo.join(&golden)).unwrap();
            rel.to_string_lossy().into_owned()
        })
        .filter(|rel| !expected.contains(rel))
        .collect();
    assert!(
        stale.is_empty(),
        "{golden}: golden files without an output (rerun with LIFTKIT_BLESS=1): {stale:?}"
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn every_artifact_of_the_nginx_sample_is_golden() {
    check("nginx");
}

#[test]
fn every_artifact_of_the_redis_sample_is_golden() {
    check("redis");
}
