//! The trial run's bad input, and verify's record of a failure: no engine means a lift that
//! completes with a warning; a lifted app that exits at start is a verdict kept with its
//! evidence (exit 1), on a copy of the volumes, leaving no container behind.

use crate::common::*;

#[test]
fn without_an_engine_the_lift_completes_and_says_the_trial_was_not_run() {
    let dir = public_tempdir();
    let port = free_port();
    let nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    let o = liftkit()
        .args(["lift", "--pid", &nginx.pid().to_string(), "-o"])
        .arg(&out)
        .env("ENGINE", "/nonexistent/podman")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("the trial run was not run"),
        "{stderr}"
    );
    let trial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir(&out).join("trial.json")).unwrap())
            .unwrap();
    assert!(
        trial["not_run"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/podman"),
        "{trial:#}"
    );
}

/// A program that needs the network to answer: on the host it reaches a service of the host
/// before it listens; in the trial's own network namespace that service is not there, so the
/// lifted program never listens. The trial waits a bounded time, says so in a finding, and the
/// lift completes.
#[test]
fn a_program_that_needs_the_network_never_answers_in_its_trial_and_the_lift_completes() {
    let dir = public_tempdir();
    let d = dir.path();
    let (port, needed) = (free_port(), free_port());
    let dependency = std::net::TcpListener::bind(("127.0.0.1", needed)).unwrap();
    std::fs::write(
        d.join("needs_network.py"),
        format!(
            "import socket, time\n\
             while True:\n    \
             try:\n        socket.create_connection(('127.0.0.1', {needed}), 2).close(); break\n    \
             except OSError:\n        time.sleep(1)\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('127.0.0.1', {port})); s.listen(8)\n\
             while True:\n    c, _ = s.accept(); c.sendall(b'ready\\n'); c.close()\n"
        ),
    )
    .unwrap();
    let mut child = daemon_command("/usr/bin/python3")
        .arg(d.join("needs_network.py"))
        .current_dir(d)
        .spawn()
        .unwrap();
    assert!(wait_for_port(port, std::time::Duration::from_secs(20)));
    drop(dependency);
    let out = d.join("out");
    let o = liftkit()
        .args([
            "lift",
            "--trial-timeout",
            "5",
            "--trial-rounds",
            "2",
            "--pid",
        ])
        .arg(child.id().to_string())
        .arg("-o")
        .arg(&out)
        .env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("trial run: the lifted app did not answer in its trial run"),
        "the finding says it never answered: {stderr}"
    );
    // Bounded by the options, not by how loaded the machine is: at most the two rounds asked
    // for, each ended by its own 5 s wait for the port, none answered.
    let trial: serde_json::Value =
        serde_json::from_slice(&std::fs::read(app_dir(&out).join("trial.json")).unwrap()).unwrap();
    let rounds = trial["rounds"].as_array().unwrap();
    assert!((1..=2).contains(&rounds.len()), "{trial:#}");
    for round in rounds {
        assert_eq!(round["answered"], false, "{trial:#}");
        let failure = round["failure"].as_str().unwrap_or_default();
        assert!(failure.contains("within 5 s"), "{trial:#}");
    }
}

#[test]
fn a_failed_verify_is_recorded_exits_1_and_leaves_nothing_behind() {
    let dir = public_tempdir();
    let port = free_port();
    let redis = start_redis(dir.path(), port);
    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args([
                "lift",
                "--no-trial",
                "--pid",
                &redis.pid().to_string(),
                "-o",
            ])
            .arg(&out),
    );
    let app = app_dir(&out);
    // The plan edited by hand to an option the server refuses: it exits at start.
    let plan_path = app.join("plan.yaml");
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    let broken = plan.replacen(
        "entrypoint:\n    - /usr/bin/redis-server",
        "entrypoint:\n    - /usr/bin/redis-server\n    - --no-such-option",
        1,
    );
    assert_ne!(plan, broken, "{plan}");
    std::fs::write(&plan_path, broken).unwrap();
    run_ok(
        liftkit()
            .args(["build", "--force", "-o"])
            .arg(&out)
            .arg(&plan_path),
    );
    let volumes_before = walk(&app.join("volumes"));
    let _cleanup = cleanup_of(&app, "unused");
    let o = liftkit()
        .args(["verify", "--json", "--timeout", "20"])
        .arg(&app)
        .env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "the help reserves 1 for 'answers differently or not at all': {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("verify.json")).unwrap()).unwrap();
    assert_eq!(kept["verdict"], "failed");
    assert!(
        kept["failure"]
            .as_str()
            .unwrap()
            .contains("exited at start")
            && kept["logs_tail"].to_string().contains("no-such-option"),
        "the evidence is kept: {kept:#}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["verify"]["passed"], false,
        "the report shows the failure"
    );
    let left = podman()
        .args([
            "ps",
            "-a",
            "--filter",
            "name=liftkit-verify-",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&left.stdout)
            .contains(&format!("liftkit-verify-{}", kept["app"].as_str().unwrap())),
        "no container is left behind"
    );
    assert_eq!(
        walk(&app.join("volumes")),
        volumes_before,
        "verify ran on a copy"
    );
}

fn walk(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e.path().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}
