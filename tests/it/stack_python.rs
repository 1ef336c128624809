//! Lifts a real Flask application under a daemonized gunicorn together with the redis it counts
//! visits in: one image each, the connection between them named in the plan, only the Python
//! modules the app reaches in its image, and the lifted pair answering with the redis data.

use crate::common;
use crate::deploy_common::*;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// gunicorn as a legacy init script starts it: daemonized, a pid file, the app by `--chdir`.
fn start_gunicorn(dir: &Path, port: u16, redis_port: u16) -> Daemon {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/python-app/app.py");
    std::fs::copy(sample, app.join("app.py")).unwrap();
    let pid_file = dir.join("gunicorn.pid");
    run_ok(
        daemon_command("/usr/bin/gunicorn")
            .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}/0"))
            .args(["--daemon", "--workers", "1", "--bind"])
            // Every address, as servers bind: the lifted app answers inside a pod too.
            .arg(format!("0.0.0.0:{port}"))
            .arg("--pid")
            .arg(&pid_file)
            .arg("--chdir")
            .arg(&app)
            .arg("app:app")
            .current_dir("/"),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "gunicorn did not start"
    );
    Daemon { pid_file }
}

fn body(port: u16, path: &str) -> String {
    let (status, body) = http_get(port, path);
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    String::from_utf8_lossy(&body).into_owned()
}

fn walk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| walk_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes of the layer's files under `prefix`.
fn layer_bytes_under(app_dir: &Path, prefix: &str) -> u64 {
    layer_archive(app_dir)
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| e.path().unwrap().to_string_lossy().starts_with(prefix))
        .map(|e| e.header().size().unwrap())
        .sum()
}

#[test]
fn a_flask_app_and_its_redis_lift_together_and_keep_talking() {
    let dir = public_tempdir();
    let d = dir.path();
    let (redis_port, web_port) = (free_port(), free_port());
    let redis_daemon = start_redis(&d.join("redis"), redis_port);
    let web = start_gunicorn(d, web_port, redis_port);
    assert_eq!(body(web_port, "/count"), "count=1\n");
    assert_eq!(body(web_port, "/count"), "count=2\n");
    assert!(redis(redis_port, &["SAVE"]).starts_with("+OK"));

    let out = d.join("out");
    let lift = run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(web.pid().to_string())
            .arg("--pid")
            .arg(redis_daemon.pid().to_string())
            .arg("-o")
            .arg(&out)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS),
    );
    println!("{}", String::from_utf8_lossy(&lift.stdout));

    // The plan: two apps, the web app's connection names the lifted redis, and says where the
    // address came from.
    let plan = liftkit::plan::load(&out.join("plan.yaml")).unwrap();
    assert_eq!(plan.apps.len(), 2, "one image each");
    let py = plan.apps.iter().find(|a| a.analyzer == "gunicorn").unwrap();
    let rd = plan.apps.iter().find(|a| a.analyzer == "redis").unwrap();
    let expected = format!(
        "127.0.0.1:{redis_port}/tcp → {} (lifted as {})",
        rd.name, rd.image.name
    );
    assert_eq!(py.connections, vec![expected], "the app's connection");
    assert!(
        py.findings
            .iter()
            .any(|f| f.message.contains("REDIS_URL") && f.message.contains("host networking")),
        "how the pair reaches each other: {:#?}",
        py.findings
    );
    assert!(rd.connections.is_empty(), "redis connects to nothing");
    let ep = py.image.entrypoint.join(" ");
    assert!(
        !ep.contains("--daemon") && !ep.contains("--pid"),
        "foreground: {ep}"
    );
    assert!(ep.contains("app:app") && ep.contains("--chdir"), "{ep}");

    // The python image: the interpreter, the app, the distributions it imports with their
    // metadata, and nothing of what else the host has installed.
    let py_dir = out.join(py.slug());
    let rd_dir = out.join(rd.slug());
    let paths: BTreeSet<String> = layer_paths(&py_dir).into_iter().collect();
    let app_py = format!("{}/app/app.py", d.display());
    let dist = "usr/lib/python3/dist-packages";
    for needed in [
        "usr/bin/python3.11".to_string(),
        "usr/bin/python3".to_string(),
        "usr/bin/gunicorn".to_string(),
        app_py.trim_start_matches('/').to_string(),
        "usr/lib/python3.11/os.py".to_string(),
        "usr/lib/python3.11/encodings/idna.py".to_string(),
        "usr/lib/python3.11/stringprep.py".to_string(),
        format!("{dist}/flask/__init__.py"),
        format!("{dist}/flask/app.py"),
        format!("{dist}/werkzeug/serving.py"),
        format!("{dist}/jinja2/__init__.py"),
        format!("{dist}/markupsafe/__init__.py"),
        format!("{dist}/itsdangerous/__init__.py"),
        format!("{dist}/click/__init__.py"),
        format!("{dist}/redis/client.py"),
        format!("{dist}/gunicorn/workers/sync.py"),
    ] {
        assert!(paths.contains(&needed), "{needed} is in the image");
    }
    for meta in ["gunicorn-", "Flask-", "redis-"] {
        assert!(
            paths
                .iter()
                .any(
                    |p| p.starts_with(&format!("{dist}/{meta}")) && p.ends_with("PKG-INFO")
                        || p.starts_with(&format!("{dist}/{meta}")) && p.ends_with("METADATA")
                ),
            "{meta}* metadata is in the image (importlib.metadata reads it)"
        );
    }
    let unrelated = [
        "pip",
        "setuptools",
        "numpy",
        "ansible",
        "pygments",
        "yaml",
        "apt",
    ];
    let mut checked = Vec::new();
    for pkg in unrelated {
        if Path::new("/usr/lib/python3/dist-packages")
            .join(pkg)
            .is_dir()
        {
            checked.push(pkg);
            assert!(
                !paths
                    .iter()
                    .any(|p| p.starts_with(&format!("{dist}/{pkg}/"))),
                "{pkg} is installed on the host but the app never imports it"
            );
        }
    }
    for dev in ["test", "idlelib", "tkinter", "lib2to3", "ensurepip"] {
        assert!(
            !paths
                .iter()
                .any(|p| p.starts_with(&format!("usr/lib/python3.11/{dev}/"))),
            "usr/lib/python3.11/{dev} is not for serving"
        );
    }
    let host_bytes =
        walk_size(Path::new("/usr/lib/python3")) + walk_size(Path::new("/usr/lib/python3.11"));
    let image_bytes = layer_bytes_under(&py_dir, "usr/lib/python3");
    println!(
        "python files: image {:.1} MB, host /usr/lib/python3* {:.1} MB; absent host packages \
         checked: {checked:?}",
        image_bytes as f64 / 1e6,
        host_bytes as f64 / 1e6
    );
    assert!(
        image_bytes * 2 < host_bytes,
        "the image holds well under half of the host's Python ({image_bytes} of {host_bytes})"
    );

    let image_of = |dir: &Path| -> String {
        let build: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("build.json")).unwrap())
                .unwrap();
        build["image"].as_str().unwrap().to_string()
    };
    let py_container = format!("liftkit-test-gunicorn-{web_port}");
    let rd_container = format!("liftkit-test-redis-{redis_port}");
    let _py_cleanup = Cleanup {
        container: py_container.clone(),
        image: image_of(&py_dir),
    };
    let _rd_cleanup = Cleanup {
        container: rd_container.clone(),
        image: image_of(&rd_dir),
    };

    // verify: the lifted app beside the running original, in its own network namespace.
    verify_same(&py_dir, &[]);

    // The originals stop; the lifted pair takes over their addresses and the counter continues
    // from the data redis saved.
    web.stop();
    redis_daemon.stop();
    assert!(wait_for_port_closed(web_port, Duration::from_secs(10)));
    assert!(wait_for_port_closed(redis_port, Duration::from_secs(10)));
    start_lifted_answering(&rd_dir, &rd_container, redis_port);
    start_lifted_answering(&py_dir, &py_container, web_port);
    assert_eq!(
        body(web_port, "/"),
        "hello from a flask app under gunicorn\n"
    );
    let count = http_get(web_port, "/count");
    assert_eq!(
        (count.0, String::from_utf8_lossy(&count.1).into_owned()),
        (200, "count=3\n".to_string()),
        "the lifted app reaches the lifted redis and its data:\n{}",
        container_logs(&py_container)
    );
    let kept = assert_hardened(&py_dir, &py_container);
    eprintln!("table: gunicorn | {kept:?} | same");
    let kept = assert_hardened(&rd_dir, &rd_container);
    eprintln!("table: redis (companion) | {kept:?} | same");

    // What a platform team takes: syft reads the packages, the manifests validate, the
    // maintained Dockerfile names every package and every file no package gives.
    let (seen, planned) = syft_sees_the_plan(&py_dir);
    eprintln!("gunicorn: syft {seen} / plan {planned} packages");
    assert_eq!(
        kinds(&kubernetes_validated(&py_dir)),
        ["Secret", "Service", "StatefulSet"],
        "gunicorn writes beside its code (a volume seeded from the image): a StatefulSet"
    );
    maintained_dockerfile_checked(&py_dir);

    // The exact Dockerfile's image, then the pod on the cluster's network, answer the page.
    for c in [&py_container, &rd_container] {
        let _ = podman().args(["rm", "-f", "-t", "2", c]).output();
    }
    assert!(wait_for_port_closed(web_port, Duration::from_secs(10)));
    let hello = (200, b"hello from a flask app under gunicorn\n".to_vec());
    let tag = format!("localhost/liftkit-test/gunicorn-dockerfile-{web_port}:1");
    let rebuilt = dockerfile_rebuilt(&py_dir, &tag, &format!("{py_container}-dockerfile"));
    assert_eq!(
        http_when_ready(web_port, "/"),
        Some(hello.clone()),
        "the rebuilt image answers"
    );
    drop(rebuilt);
    assert!(wait_for_port_closed(web_port, Duration::from_secs(10)));
    let played = http_through_kube_play(&py_dir, d, web_port, "/", Duration::from_secs(60))
        .unwrap_or_else(|logs| panic!("no answer from the pod:\n{logs}"));
    assert_eq!(played, hello, "the pod answers the page");
}
