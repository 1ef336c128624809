//! nginx with its own `*_temp_path` directories: nginx makes them at start and dies when it
//! cannot (`mkdir() "…/body" failed`), so the plan must give each a writable place, and the
//! lifted nginx must start and answer.

use crate::common;

use common::*;
use liftkit::plan::VolumeKind;
use std::time::Duration;

#[test]
fn nginx_with_its_own_temp_paths_starts_lifted() {
    let dir = public_tempdir();
    let port = free_port();
    let nginx = start_nginx_with_temp_paths(dir.path(), port);
    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args(["lift", "--pid", &nginx.pid().to_string(), "-o"])
            .arg(&out),
    );
    let plan = liftkit::plan::load(&out.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    for (directive, sub) in NGINX_TEMP_PATHS {
        let path = dir.path().join("tmp").join(sub).display().to_string();
        let v = app
            .volumes
            .iter()
            .find(|v| v.path == path)
            .unwrap_or_else(|| {
                panic!(
                    "{directive} {path} is writable in the plan: {:?}",
                    app.volumes
                )
            });
        assert_eq!(v.kind, VolumeKind::Tmpfs, "{path}: scratch space, not kept");
    }

    let app_dir = app_dir(&out);
    let container = format!("liftkit-test-nginx-temp-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted_answering(&app_dir, &container, port);
    let (status, body) = http_get(port, "/");
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("<h1>on {port}</h1>\n")
    );
    let logs = container_logs(&container);
    assert!(!logs.contains("mkdir()"), "{logs}");
    failed_detached_starts_keep_their_logs(&app_dir, port);
    engine_errors_come_with_a_hint(&app_dir, &out);
}

/// The engine refusing the container (`error setting rlimit type 7`, the limits of this very
/// machine without ENGINE_RUN_FLAGS) is named with what to set, beside the JSON verdict; the
/// output root is named as such.
fn engine_errors_come_with_a_hint(app_dir: &std::path::Path, out: &std::path::Path) {
    let run = liftkit()
        .arg("verify")
        .arg(app_dir)
        .arg("--json")
        .env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", "--ulimit nofile=2147483647:2147483647")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "it did not answer: {run:?}");
    let answer: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {run:?}"));
    assert!(
        answer["failure"].as_str().unwrap().contains("rlimit"),
        "{answer}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("hint:") && stderr.contains("ENGINE_RUN_FLAGS"),
        "{stderr}"
    );
    let root = liftkit().arg("verify").arg(out).output().unwrap();
    let stderr = String::from_utf8_lossy(&root.stderr);
    assert_eq!(root.status.code(), Some(2));
    assert!(
        stderr.contains("is an output directory")
            && stderr.contains(&app_dir.display().to_string()),
        "{stderr}"
    );
}

/// run.sh with -d: a container that stops at start is kept with its logs (it used to go with
/// `--rm`, and what went wrong with it); at a terminal run.sh prints its last lines.
fn failed_detached_starts_keep_their_logs(app_dir: &std::path::Path, port: u16) {
    let quiet = format!("liftkit-test-nginx-bad-{port}");
    let at_tty = format!("liftkit-test-nginx-bad-tty-{port}");
    let _cleanup = [&quiet, &at_tty].map(|name| Cleanup {
        container: name.clone(),
        image: String::new(),
    });
    let run_sh = |name: &str| {
        let mut c = std::process::Command::new("sh");
        c.arg(app_dir.join("run.sh"))
            .arg("-Z") // nginx refuses an unknown option and exits at once
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", format!("-d {ENGINE_RUN_FLAGS}"))
            .env("NAME", name);
        c
    };
    let out = run_sh(&quiet).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let waited = podman().args(["wait", &quiet]).output().unwrap();
    assert_ne!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "0",
        "nginx -Z fails"
    );
    let logs = container_logs(&quiet);
    assert!(
        logs.contains("invalid option"),
        "the stopped container is kept, with its logs: {logs:?}"
    );

    // At a terminal (script(1) gives run.sh one), the failure is said and its log shown.
    let inner = run_sh(&at_tty);
    let line = format!(
        "sh {}/run.sh -Z",
        shell_quote(&app_dir.display().to_string())
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("stopped at start"), "{text}");
    assert!(
        text.contains("invalid option"),
        "its last log lines: {text}"
    );
    assert!(
        text.contains(&format!("rm {at_tty}")),
        "how to remove it: {text}"
    );
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
