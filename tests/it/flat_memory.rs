//! Memory stays flat as the host's files grow: a lift of nginx and redis whose content, config
//! and data files are sixty-four times larger (and a multi-GB sparse data file) peaks at about
//! the same resident memory as one with small files; analysis of multi-GB sparse config and
//! content files reads a bounded prefix; a sparse data file stays sparse in the volume copy.

use crate::common;
use crate::safety_common;

use common::*;
use safety_common::*;
use std::path::Path;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// What growing files may add to the peak: the 8 MB a config read is bounded to, plus noise.
const SLACK_KIB: u64 = 24 << 10;

/// nginx with `www/blob.bin` as content and `extra.conf` included (added to the config on
/// disk after start, as an operator's edit would be), redis with `data/big.rdb` as data.
fn grow(d: &Path, content: u64, config: u64, data: u64) {
    sparse_file(&d.join("www/blob.bin"), content, b"blob");
    sparse_file(&d.join("extra.conf"), config, b"# generated\n");
    sparse_file(&d.join("data/big.rdb"), data, b"REDIS0009");
}

fn lift(d: &Path, pids: &[i32], out: &str) -> (u64, String) {
    let mut cmd = liftkit();
    // The files' sizes are what is compared; the trial (podman runs, minutes) adds nothing to
    // liftkit's own peak.
    cmd.args(["lift", "--no-trial"]);
    for p in pids {
        cmd.args(["--pid", &p.to_string()]);
    }
    cmd.arg("-o").arg(d.join(out));
    let (code, _, err, rss) = run_measured(&mut cmd);
    assert_eq!(code, 0, "lift failed:\n{err}");
    (rss, err)
}

/// Analyzes the two apps from `snapshot` (the same one for the small and the large files: its
/// size follows the number of processes on the machine, which other tests change while this
/// one runs; analysis reads the apps' files from the host, so they are the only difference).
fn analyze(d: &Path, snapshot: &Path, pids: &[i32], name: &str) -> (u64, String) {
    let mut cmd = liftkit();
    cmd.arg("analyze").arg(snapshot);
    for p in pids {
        cmd.args(["--pid", &p.to_string()]);
    }
    cmd.arg("-o").arg(d.join(format!("{name}.yaml")));
    let (code, _, err, rss) = run_measured(&mut cmd);
    assert!(code == 0 || code == 1, "analyze failed:\n{err}");
    (rss, err)
}

#[test]
fn peak_memory_does_not_follow_file_sizes() {
    let dir = public_tempdir();
    let d = dir.path();
    let nginx = start_nginx(d, free_port());
    let conf = std::fs::read_to_string(d.join("nginx.conf")).unwrap();
    let edited = conf.replacen(
        "http {",
        &format!("http {{\n  include {}/extra.conf;", d.display()),
        1,
    );
    std::fs::write(d.join("nginx.conf"), edited).unwrap();
    let redis_daemon = start_redis(d, free_port());
    let pids = [nginx.pid(), redis_daemon.pid()];

    grow(d, MIB, MIB, MIB);
    let (small_lift, _) = lift(d, &pids, "small");
    let snapshot = d.join("snapshot.json");
    run_ok(liftkit().arg("collect").arg("-o").arg(&snapshot));
    let (small_analyze, _) = analyze(d, &snapshot, &pids, "small");

    // The layer streams every byte through gzip, so its files grow 64-fold (not to GBs: a
    // debug build compresses slowly); the volume's data file is 8 GB, sparse.
    grow(d, 64 * MIB, 64 * MIB, 8 * GIB);
    let (large_lift, err) = lift(d, &pids, "large");
    assert!(
        err.contains("extra.conf: larger than 8 MB"),
        "the cut config is named:\n{err}"
    );
    let big = tree(&d.join("large"))
        .into_iter()
        .find(|p| p.ends_with("big.rdb"))
        .unwrap_or_else(|| panic!("big.rdb copied into a volume: {:?}", tree(&d.join("large"))));
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 8 * GIB);
    assert!(
        disk_bytes(&big) < 16 * MIB,
        "the volume copy stays sparse: {} bytes",
        disk_bytes(&big)
    );

    // Analysis only reads: multi-GB config and content cost a bounded read, not their size.
    grow(d, 8 * GIB, 8 * GIB, 8 * GIB);
    let (large_analyze, _) = analyze(d, &snapshot, &pids, "large");

    eprintln!(
        "peak RSS: lift {small_lift} KiB with 1 MiB files, {large_lift} KiB with 64 MiB files and an \
         8 GiB sparse volume file; analyze {small_analyze} KiB with 1 MiB files, {large_analyze} KiB \
         with 8 GiB config and content"
    );
    assert!(
        large_lift <= small_lift + SLACK_KIB,
        "lift: {small_lift} → {large_lift} KiB"
    );
    assert!(
        large_analyze <= small_analyze + SLACK_KIB,
        "analyze: {small_analyze} → {large_analyze} KiB"
    );
}
