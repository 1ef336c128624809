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
    // Two workers: the app is grouped from a master and its children.
    start_nginx_with(dir, port, 2, "")
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
            .args(["lift", "--seccomp", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(&out)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS),
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
    start_lifted_answering(&app_dir, &container, port);
    assert_eq!(http_get(port, "/"), original_root);
    let missing = http_get(port, "/no-such-page");
    assert_eq!(missing.0, 404);
    assert_eq!(
        http_get(port, "/about.txt").1,
        b"served by a lifted nginx\n"
    );

    // Hardened, under its own profile: read-only root, the master's capabilities and no more.
    let kept = assert_hardened(&app_dir, &container);
    assert_eq!(
        kept,
        ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"],
        "root master, www-data workers"
    );
    assert_own_profile(&app_dir, &container);
    let report = std::fs::read_to_string(app_dir.join("report.md")).unwrap();
    assert!(
        report.contains("## 9. Hardening") && report.contains("Root file system **read-only**"),
        "the report's Hardening section:\n{report}"
    );
    assert!(
        plan.contains("own_user:") && plan.contains("user: www-data"),
        "the plan offers www-data as its own user"
    );
    eprintln!(
        "table: nginx | {} | {} | {} syscalls | same",
        kept.join(", "),
        placements(&app_dir),
        profile_size(&app_dir)
    );
    hardening_bad_input(&app_dir, dir.path());

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

/// The plan's tmpfs and volumes, for the closing table.
fn placements(app_dir: &std::path::Path) -> String {
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    plan.apps[0]
        .volumes
        .iter()
        .map(|v| format!("{:?} {}", v.kind, v.path).to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A call outside the profile is refused with EPERM (the app says so; the engine runs it), a
/// plan edited to leave a written place on the read-only root warns at build and fails verify
/// with the write named, and one without a capability the app needs fails verify naming it.
fn hardening_bad_input(app_dir: &std::path::Path, work: &std::path::Path) {
    let plan_path = app_dir.join("plan.yaml");
    let plan = liftkit::plan::load(&plan_path).unwrap();
    let app = &plan.apps[0];

    // The profile without `listen`: nginx's listen() fails with EPERM, and it says so.
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("seccomp.json")).unwrap())
            .unwrap();
    let names = profile["syscalls"][0]["names"].as_array_mut().unwrap();
    names.retain(|n| n != "listen");
    let narrowed = work.join("no-listen.json");
    std::fs::write(&narrowed, profile.to_string()).unwrap();
    let name = format!("liftkit-test-nginx-eperm-{}", std::process::id());
    let _cleanup = Cleanup {
        container: name.clone(),
        image: String::new(),
    };
    let started = std::process::Command::new("sh")
        .arg(app_dir.join("run.sh"))
        .env("ENGINE", ENGINE)
        .env(
            "ENGINE_RUN_FLAGS",
            format!("-d --rm=false {ENGINE_RUN_FLAGS}"),
        )
        .env("NETWORK", "none")
        .env("NAME", &name)
        .env("SECCOMP", &narrowed)
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "the engine starts it under the narrowed profile: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut logs = String::new();
    while std::time::Instant::now() < deadline && !logs.contains("listen()") {
        std::thread::sleep(Duration::from_millis(300));
        logs = container_logs(&name);
    }
    assert!(
        logs.contains("listen() to") && logs.contains("(1: Operation not permitted)"),
        "listen() outside the profile fails with EPERM:\n{logs}"
    );

    let edited = |what: &str, edit: &dyn Fn(&mut liftkit::plan::AppPlan)| {
        let mut p = plan.clone();
        edit(&mut p.apps[0]);
        let dir = work.join(what);
        std::fs::create_dir_all(&dir).unwrap();
        liftkit::plan::save(&p, &dir.join("plan.yaml")).unwrap();
        let build = liftkit()
            .args(["build", "--force", "-o"])
            .arg(dir.join("out"))
            .arg(dir.join("plan.yaml"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&build.stderr).into_owned();
        let verify = liftkit()
            .args(["verify", "--json", "--timeout", "10"])
            .arg(dir.join("out").join(app.slug()))
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
            .output()
            .unwrap();
        assert_eq!(verify.status.code(), Some(1), "{what}: verify fails");
        let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
        (stderr, report["diagnosis"].to_string())
    };

    // The place nginx writes its pid file, dropped from the plan.
    let pid_dir = app
        .hardening
        .writes
        .iter()
        .find(|w| w.why.contains("nginx.pid"))
        .map(|w| w.path.clone())
        .expect("the trial recorded where nginx writes its pid file");
    let (build_log, diagnosis) = edited("no-pid-volume", &|a| {
        a.volumes.retain(|v| v.path != pid_dir)
    });
    assert!(
        build_log.contains(&pid_dir) && build_log.contains("read-only root"),
        "build warns with the path:\n{build_log}"
    );
    assert!(
        diagnosis.contains("nginx.pid failed with EROFS"),
        "verify shows the write error: {diagnosis}"
    );

    // CAP_SETGID removed: the workers cannot take www-data's group, and verify says which.
    let (_, diagnosis) = edited("no-setgid", &|a| {
        a.hardening
            .capabilities
            .as_mut()
            .unwrap()
            .retain(|g| g.name != "CAP_SETGID")
    });
    assert!(
        diagnosis.contains("needs CAP_SETGID"),
        "verify names the capability: {diagnosis}"
    );
}
