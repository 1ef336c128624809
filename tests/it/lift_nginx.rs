//! Lifts a real, daemonized nginx from this host and proves the image answers as the original.

use crate::common;

use common::*;
use std::time::Duration;

fn start_nginx(dir: &std::path::Path, port: u16) -> Daemon {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("index.html"),
        format!("<h1>legacy app on {port}</h1>\n"),
    )
    .unwrap();
    std::fs::write(www.join("about.txt"), "served by a lifted nginx\n").unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n    index index.html;\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(daemon_command("/usr/sbin/nginx").arg("-c").arg(&conf));
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "nginx did not start"
    );
    Daemon {
        pid_file: dir.join("nginx.pid"),
    }
}

#[test]
fn lifted_nginx_answers_like_the_original() {
    let dir = public_tempdir();
    let port = free_port();
    let nginx = start_nginx(dir.path(), port);
    let original_root = http_get(port, "/");
    let original_missing = http_get(port, "/no-such-page");
    assert_eq!(original_root.0, 200);
    assert_eq!(original_missing.0, 404);

    let listing = run_ok(liftkit().args(["lift"]));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains(&format!("127.0.0.1:{port}/tcp")) && listing.contains("nginx"),
        "lift lists the running nginx:\n{listing}"
    );

    let out = dir.path().join("out");
    let lift = run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(&out),
    );
    let summary = String::from_utf8_lossy(&lift.stdout);
    assert!(
        summary.contains("image "),
        "summary gives the image size: {summary}"
    );
    let app_dir = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("image.tar").exists())
        .expect("an app directory with image.tar");
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(
        plan.contains("daemon off;"),
        "foreground entrypoint in the plan"
    );
    assert!(
        plan.contains("needed-by /usr/sbin/nginx"),
        "files carry their reasons"
    );
    assert!(
        plan.contains("  secrets: []"),
        "no false secrets in a plain nginx:\n{plan}"
    );

    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    let image = build["image"].as_str().unwrap().to_string();
    let container = format!("liftkit-test-nginx-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image: image.clone(),
    };

    // The lifted app runs as the source did, on the host's network: the original steps aside.
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted(&app_dir, &container);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "lifted nginx did not answer:\n{}",
        container_logs(&container)
    );
    assert_eq!(http_get(port, "/"), original_root);
    let missing = http_get(port, "/no-such-page");
    assert_eq!(missing.0, 404);
    assert_eq!(
        http_get(port, "/about.txt").1,
        b"served by a lifted nginx\n"
    );

    // Minimal: no shell, no package manager in the image.
    let paths = layer_paths(&app_dir);
    assert!(
        paths.iter().any(|p| p == "usr/sbin/nginx"),
        "layer holds nginx"
    );
    for forbidden in [
        "bin/sh",
        "usr/bin/sh",
        "usr/bin/dash",
        "usr/bin/bash",
        "usr/bin/dpkg",
        "usr/bin/apt",
    ] {
        assert!(
            !paths.iter().any(|p| p == forbidden),
            "{forbidden} must not be in a minimal image"
        );
    }
    let index = std::fs::read_to_string(app_dir.join("oci/index.json")).unwrap();
    assert!(index.contains("io.containerd.image.name"));
}
