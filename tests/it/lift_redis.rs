//! Lifts a real, daemonized redis with its data and proves the image serves the same data.

use crate::common;

use common::*;
use std::time::Duration;

#[test]
fn lifted_redis_keeps_its_data_and_answers() {
    let dir = public_tempdir();
    let port = free_port();
    let redis_daemon = start_redis(dir.path(), port);
    assert!(redis(port, &["SET", "liftkit:before", "written-on-the-source"]).starts_with("+OK"));
    // An operator quiesces the data before a lift; liftkit itself never writes to the source.
    assert!(redis(port, &["SAVE"]).starts_with("+OK"));

    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args(["lift", "--seccomp", "--pid"])
            .arg(redis_daemon.pid().to_string())
            .arg("-o")
            .arg(&out)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS),
    );
    let app_dir = app_dir(&out);
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(
        plan.contains(&format!("{}/data", dir.path().display())),
        "the data dir is a volume:\n{plan}"
    );
    assert!(plan.contains("--daemonize"), "foreground entrypoint");
    assert!(
        plan.contains("  secrets: []"),
        "no false secrets in a plain redis:\n{plan}"
    );
    // The data volume only: redis cannot write its pid file beside its config on the
    // read-only root, and answers as the original without it (its trial run saw both), so no
    // place is given to it; the plan notes the write.
    let plan_of_app = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let app = &plan_of_app.apps[0];
    let volumes: Vec<&str> = app
        .volumes
        .iter()
        .filter(|v| v.kind == liftkit::plan::VolumeKind::Volume)
        .map(|v| v.path.as_str())
        .collect();
    let d = dir.path().display().to_string();
    assert_eq!(volumes, [format!("{d}/data")], "the data volume:\n{plan}");
    assert!(
        app.hardening
            .writes
            .iter()
            .any(|w| w.path == format!("{d}/redis.pid") && w.tolerated),
        "the pid file it could not write is noted: {:?}",
        app.hardening.writes
    );
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    let image = build["image"].as_str().unwrap().to_string();
    let container = format!("liftkit-test-redis-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image,
    };

    redis_daemon.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted(&app_dir, &container);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "lifted redis did not answer:\n{}",
        container_logs(&container)
    );
    assert_eq!(redis(port, &["PING"]), "+PONG\r\n");
    assert!(
        redis(port, &["GET", "liftkit:before"]).contains("written-on-the-source"),
        "the key written before the lift is served from the data volume:\n{}",
        container_logs(&container)
    );
    assert!(redis(port, &["SET", "liftkit:after", "round-trip"]).starts_with("+OK"));
    assert!(redis(port, &["GET", "liftkit:after"]).contains("round-trip"));

    // Hardened, under its own profile: redis runs as its own user and keeps no capability.
    let kept = assert_hardened(&app_dir, &container);
    assert!(kept.is_empty(), "redis needs no capability: {kept:?}");
    assert_own_profile(&app_dir, &container);
    assert!(
        redis(port, &["SAVE"]).starts_with("+OK"),
        "it writes its data volume"
    );
    eprintln!(
        "table: redis | none | {} syscalls | same",
        profile_size(&app_dir)
    );
}
