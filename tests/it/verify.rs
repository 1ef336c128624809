//! `liftkit verify` runs the lifted image beside the still-running original and compares answers:
//! the same content gives `same`, content changed on the source since the lift gives `differs`.

use crate::common;

use common::*;
use std::time::Duration;

#[test]
fn verify_compares_the_lifted_image_with_the_running_original() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "version one\n").unwrap();
    let nginx = start_nginx(d, port);
    // Under /var/tmp, where consultants put big outputs: the trial's private engine mounts its
    // own /var/tmp while it loads the image, which once hid the archive it was loading.
    let var_tmp = tempfile::Builder::new()
        .prefix("liftkit-test-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let out = var_tmp.path().join("out");
    run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(&out),
    );
    let app_dir = app_dir(&out);
    let _cleanup = cleanup_of(&app_dir, "unused");
    let trial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("trial.json")).unwrap())
            .unwrap();
    assert!(trial["not_run"].is_null(), "the trial ran: {trial:#}");
    assert!(!trial["rounds"].as_array().unwrap().is_empty(), "{trial:#}");
    let verify = || {
        liftkit()
            .args(["verify", "--json"])
            .arg(&app_dir)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
            .output()
            .unwrap()
    };

    let same = verify();
    let report: serde_json::Value = serde_json::from_slice(&same.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&same.stderr)));
    assert_eq!(report["verdict"], "same", "{report:#}");
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(
        report["probes"].as_array().unwrap().len(),
        2,
        "GET / and a missing page"
    );
    assert_eq!(report["probes"][1]["lifted"]["Http"]["status"], 404);
    assert!(
        app_dir.join("verify.json").exists(),
        "the result is kept for the report"
    );
    let in_report = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
    };
    assert_eq!(
        in_report(&app_dir)["verify"]["passed"],
        true,
        "report.json shows the verify result"
    );
    let html = std::fs::read_to_string(app_dir.join("report.html")).unwrap();
    assert!(
        html.contains("same as the original"),
        "report.html shows it too"
    );

    // The source changes after the lift: verify must notice.
    std::fs::write(d.join("www/index.html"), "version two\n").unwrap();
    let differs = verify();
    let report: serde_json::Value = serde_json::from_slice(&differs.stdout).unwrap();
    assert_eq!(report["verdict"], "differs", "{report:#}");
    assert_eq!(differs.status.code(), Some(1));
    assert_eq!(in_report(&app_dir)["verify"]["passed"], false);

    // With the original gone, the lifted app is still checked on its own.
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    let alone = verify();
    let report: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert_eq!(report["verdict"], "same", "{report:#}");
    assert!(report["probes"][0]["original"].is_null());
    let containers = podman()
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&containers.stdout).contains("liftkit-verify-nginx"),
        "verify removes its container"
    );
}
