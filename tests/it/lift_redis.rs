//! Lifts a real, daemonized redis with its data and proves the image serves the same data.

use crate::common;
use crate::deploy_common::*;

use common::*;
use std::time::Duration;

/// redis on every address of the host (as servers run it), so it answers inside a pod too.
fn start_redis_everywhere(dir: &std::path::Path, port: u16) -> Daemon {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "bind 0.0.0.0\nport {port}\ndaemonize yes\ndir {d}/data\ndbfilename dump.rdb\n\
             pidfile {d}/redis.pid\nlogfile {d}/redis.log\nsave \"\"\nprotected-mode no\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(
        daemon_command("/usr/bin/redis-server")
            .arg(&conf)
            .current_dir("/"),
    );
    assert!(wait_for_port(port, Duration::from_secs(10)));
    Daemon {
        pid_file: dir.join("redis.pid"),
    }
}

#[test]
fn lifted_redis_keeps_its_data_and_answers() {
    let dir = public_tempdir();
    let port = free_port();
    let redis_daemon = start_redis_everywhere(dir.path(), port);
    assert!(redis(port, &["SET", "liftkit:before", "written-on-the-source"]).starts_with("+OK"));
    // An operator quiesces the data before a lift; liftkit itself never writes to the source.
    assert!(redis(port, &["SAVE"]).starts_with("+OK"));

    let out = dir.path().join("out");
    let lift = run_ok(
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
    start_lifted_answering(&app_dir, &container, port);
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
    assert_no_stale_profile_warning(&lift, &app_dir);
    assert!(
        redis(port, &["SAVE"]).starts_with("+OK"),
        "it writes its data volume"
    );
    eprintln!(
        "table: redis | none | {} syscalls | same",
        profile_size(&app_dir)
    );

    let _ = podman().args(["rm", "-f", "-t", "2", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));

    let (seen, planned) = syft_sees_the_plan(&app_dir);
    eprintln!("redis: syft {seen} / plan {planned} packages");

    // The exact Dockerfile's image, on the lifted data as run.sh mounts it.
    let tag = format!("localhost/liftkit-test/redis-dockerfile-{port}:1");
    let rebuilt_name = format!("liftkit-test-redis-dockerfile-{port}");
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let data = plan.apps[0]
        .volumes
        .iter()
        .find(|v| v.kind == liftkit::plan::VolumeKind::Volume)
        .expect("a data volume")
        .path
        .clone();
    let fresh = dir.path().join("fresh-volume");
    run_ok(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(
                app_dir
                    .join("volumes")
                    .join(liftkit::plan::volume_name(&data)),
            )
            .arg(&fresh),
    );
    let _rebuilt = dockerfile_rebuilt_on(&app_dir, &tag, &rebuilt_name, &[(&fresh, &data)]);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "{}",
        container_logs(&rebuilt_name)
    );
    assert!(
        redis(port, &["GET", "liftkit:before"]).contains("written-on-the-source"),
        "the Dockerfile's image serves the lifted data"
    );
    let _ = podman()
        .args(["rm", "-f", "-t", "2", &rebuilt_name])
        .output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    maintained_dockerfile_checked(&app_dir);
    let compose = compose_read(&app_dir);
    assert!(
        compose["volumes"]
            .as_mapping()
            .is_some_and(|v| v.len() == 1),
        "a named volume"
    );

    // Kubernetes: a StatefulSet whose claim the init container fills from the data image.
    let docs = kubernetes_validated(&app_dir);
    assert_eq!(kinds(&docs), ["Service", "StatefulSet"]);
    let sts = workload(&docs);
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"]
            .as_sequence()
            .unwrap()
            .len(),
        1
    );
    let init = &sts["spec"]["template"]["spec"]["initContainers"][0];
    assert!(
        init["image"].as_str().unwrap().contains("-data:"),
        "{init:?}"
    );
    let _images = Loaded::images(&app_dir);
    let play = KubePlay::start(&docs, dir.path());
    assert!(
        wait_for_port(port, Duration::from_secs(60)),
        "{}",
        play.logs()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut answer = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(a) = std::panic::catch_unwind(|| redis(port, &["GET", "liftkit:before"])) {
            answer = a;
            if answer.contains("written-on-the-source") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        answer.contains("written-on-the-source"),
        "the pod serves the data the init container filled its claim with: {answer}\n{}",
        play.logs()
    );
}
