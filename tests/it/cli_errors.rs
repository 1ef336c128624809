//! Bad input gives one clear line naming what and where, exit code 2, and nothing half-written.

use crate::common;

use common::*;

#[test]
fn a_pid_that_does_not_exist_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = fails(
        &liftkit()
            .args(["lift", "--pid", "999999999", "-o"])
            .arg(&out)
            .output()
            .unwrap(),
    );
    assert!(err.contains("no process with pid 999999999"), "{err}");
    assert!(!out.exists(), "no output directory for a failed lift");
}

#[test]
fn an_app_that_matches_nothing_lists_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(
        &liftkit()
            .args(["lift", "--app", "no-such-app", "-o"])
            .arg(dir.path().join("out"))
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("no application named \"no-such-app\""),
        "{err}"
    );
    assert!(err.contains("found:"), "{err}");
}

#[test]
fn missing_and_malformed_snapshots_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let err = fails(&liftkit().arg("analyze").arg(&missing).output().unwrap());
    assert!(err.contains("missing.json: cannot read"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"schema\": 1,\n  \"liftkit_version\": 7\n}\n").unwrap();
    let err = fails(&liftkit().arg("analyze").arg(&bad).output().unwrap());
    assert!(err.contains("bad.json:3:"), "line of the bad value: {err}");

    let future = dir.path().join("future.json");
    std::fs::write(&future, "{\"schema\": 99}").unwrap();
    let err = fails(&liftkit().arg("analyze").arg(&future).output().unwrap());
    assert!(err.contains("future.json"), "{err}");
}

#[test]
fn malformed_plans_name_the_file_line_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "schema: 1\nsource:\n  hostname: h\n  os: o\n  kernel: k\n  root: /\napps: 7\n",
    )
    .unwrap();
    let err = fails(
        &liftkit()
            .arg("build")
            .arg(&plan)
            .arg("-o")
            .arg(dir.path().join("out"))
            .output()
            .unwrap(),
    );
    assert!(err.contains("plan.yaml:7:"), "{err}");
    assert!(err.contains("expected a sequence"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing written for a bad plan"
    );
}

#[test]
fn a_non_empty_output_directory_is_refused_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "someone's file").unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "schema: 1\nsource:\n  hostname: h\n  os: o\n  kernel: k\n  root: /\napps: []\n",
    )
    .unwrap();
    let err = fails(
        &liftkit()
            .arg("build")
            .arg(&plan)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap(),
    );
    assert!(err.contains("exists and is not empty"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "someone's file"
    );
}
