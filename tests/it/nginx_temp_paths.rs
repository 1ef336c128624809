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
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    let container = format!("liftkit-test-nginx-temp-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image: build["image"].as_str().unwrap().to_string(),
    };
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted(&app_dir, &container);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "the lifted nginx starts with its temp paths:\n{}",
        container_logs(&container)
    );
    let (status, body) = http_get(port, "/");
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("<h1>on {port}</h1>\n")
    );
    let logs = container_logs(&container);
    assert!(!logs.contains("mkdir()"), "{logs}");
}
