//! The fleet collection playbook (samples/ansible/collect.yml) run by real ansible-core against
//! localhost over the local connection: it copies liftkit, collects with a bundle, fetches the
//! snapshot and its files, leaves nothing behind, and what it fetched feeds `liftkit batch`.

use crate::common;

use common::*;
use std::process::Command;

const PLAYBOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/ansible/collect.yml");

#[test]
fn playbook_collects_and_fetches_a_snapshot_that_batch_reads() {
    let dir = public_tempdir();
    let d = dir.path();
    let nginx = start_nginx(&d.join("nginx"), free_port());
    let dest = d.join("snapshots");
    let remote = d.join("remote-work");
    let vars = serde_json::json!({
        "liftkit_binary": env!("CARGO_BIN_EXE_liftkit"),
        "liftkit_dest": dest,
        "liftkit_bundle": true,
        "liftkit_become": false,
        "liftkit_remote_dir": remote,
        "liftkit_collect_args": ["--pid", nginx.pid().to_string()],
    });
    let out = run_ok(
        Command::new("ansible-playbook")
            .args(["-i", "localhost,", "-c", "local", PLAYBOOK, "-e"])
            .arg(vars.to_string())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_LOCALHOST_WARNING", "false"),
    );
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("localhost") && log.contains("failed=0"),
        "{log}"
    );

    let snapshot = liftkit::snapshot::load(&dest.join("localhost.json")).expect("a valid snapshot");
    assert!(
        snapshot.processes.iter().any(|p| p.pid == nginx.pid()),
        "the snapshot holds the running nginx"
    );
    assert_eq!(snapshot.bundle.as_deref(), Some("localhost.bundle"));
    assert!(
        dest.join("localhost.bundle/usr/sbin/nginx").is_file(),
        "the bundle came along"
    );
    assert!(
        !dest.join("localhost.bundle.tar.gz").exists(),
        "the archive was unpacked and removed"
    );
    assert!(
        !remote.exists(),
        "nothing is left in the working directory on the host"
    );

    let report = d.join("report");
    run_ok(liftkit().arg("batch").arg(&dest).arg("-o").arg(&report));
    let fleet: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(fleet["summary"]["hosts"], 1);
    assert_eq!(fleet["hosts"][0]["contents"], "bundle");
    assert!(fleet["apps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["analyzer"] == "nginx"));
}
