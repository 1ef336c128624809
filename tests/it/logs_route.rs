//! `--logs files` from the command line: the nginx sample analyzed with it sends no log to the
//! engine, and every run form the build writes mounts the volume its logs go to.

use crate::common::*;
use std::path::Path;

#[test]
fn analyze_with_logs_files_gives_every_run_form_the_log_volume() {
    let tmp = public_tempdir();
    let d = tmp.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = repo.join("samples/nginx");
    run_ok(
        liftkit()
            .arg("analyze")
            .arg(sample.join("snapshot.json"))
            .arg("--root")
            .arg(sample.join("root"))
            .args(["--logs", "files", "-o"])
            .arg(d.join("plan.yaml")),
    );
    let plan = liftkit::plan::load(&d.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    assert!(
        liftkit::plan::logs::engine_logs(app).is_empty(),
        "no log sent to the engine: {:#?}",
        app.links
    );
    let logs = app
        .volumes
        .iter()
        .find(|v| v.path == "/var/log/nginx")
        .expect("a volume for the log directory");
    assert_eq!(logs.kind, liftkit::plan::VolumeKind::Volume);
    assert!(!logs.populate, "the host's old logs are not copied");

    run_ok(
        liftkit()
            .args(["build", "--force"])
            .arg(d.join("plan.yaml"))
            .arg("-o")
            .arg(d.join("out")),
    );
    let out = d.join("out").join(&app.name);
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).unwrap();
    assert!(
        read("run.sh").contains(":/var/log/nginx\""),
        "run.sh mounts the log volume"
    );
    assert!(
        read("compose.yaml").contains(":/var/log/nginx"),
        "compose too"
    );
    let k8s = std::fs::read_dir(out.join("kubernetes"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        k8s.contains("mountPath: /var/log/nginx"),
        "Kubernetes mounts it"
    );
    // The wrong word is refused with the choices, before anything is read.
    let bad = liftkit()
        .args(["analyze", "x.json", "--logs", "syslog"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected `engine` or `files`"));
}
