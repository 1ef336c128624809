//! The pipeline stage by stage (collect → analyze → build), with file contents travelling in a
//! bundle, gives the image a one-step lift gives; and the same plan always gives the same bytes.

use crate::common;

use common::*;
use std::path::Path;

fn digests(app_dir: &Path) -> (String, String) {
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    (
        build["manifest_digest"].as_str().unwrap().to_string(),
        build["layer_digest"].as_str().unwrap().to_string(),
    )
}

#[test]
fn staged_build_from_a_bundle_equals_a_live_lift_and_rebuilds_are_identical() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "staged\n").unwrap();
    let nginx = start_nginx(d, port);
    let pid = nginx.pid().to_string();

    let snapshot = d.join("site/snapshot.json");
    std::fs::create_dir_all(d.join("site")).unwrap();
    run_ok(
        liftkit()
            .args(["collect", "--bundle", "--pid", &pid, "-o"])
            .arg(&snapshot),
    );
    assert!(
        d.join("site/snapshot.bundle/usr/sbin/nginx").exists(),
        "the bundle holds the binary"
    );
    let live = d.join("live");
    run_ok(
        liftkit()
            .args(["lift", "--no-trial", "--pid", &pid, "-o"])
            .arg(&live),
    );
    // The source may be gone by the time the plan is built elsewhere.
    nginx.stop();

    let plan = d.join("plan.yaml");
    run_ok(
        liftkit()
            .arg("analyze")
            .arg(&snapshot)
            .args(["--pid", &pid, "-o"])
            .arg(&plan),
    );
    let plan_text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        plan_text.contains("snapshot.bundle"),
        "the plan reads from the bundle:\n{plan_text}"
    );
    let first = d.join("first");
    let second = d.join("second");
    run_ok(liftkit().arg("build").arg(&plan).arg("-o").arg(&first));
    run_ok(liftkit().arg("build").arg(&plan).arg("-o").arg(&second));
    let app = |root: &Path| {
        std::fs::read_dir(root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.join("build.json").exists())
            .unwrap()
    };
    assert_eq!(
        digests(&app(&first)),
        digests(&app(&second)),
        "rebuilds are identical"
    );
    assert_eq!(
        std::fs::read(app(&first).join("image.tar")).unwrap(),
        std::fs::read(app(&second).join("image.tar")).unwrap(),
        "image.tar is byte-identical"
    );
    assert_eq!(
        digests(&app(&first)),
        digests(&app(&live)),
        "bundle build equals the live lift"
    );

    // SOURCE_DATE_EPOCH sets the date, and only the date.
    let dated = d.join("dated");
    run_ok(
        liftkit()
            .arg("build")
            .arg(&plan)
            .arg("-o")
            .arg(&dated)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let (manifest, layer) = digests(&app(&dated));
    assert_ne!(
        layer,
        digests(&app(&first)).1,
        "mtimes follow SOURCE_DATE_EPOCH"
    );
    let again = d.join("again");
    run_ok(
        liftkit()
            .arg("build")
            .arg(&plan)
            .arg("-o")
            .arg(&again)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    assert_eq!(digests(&app(&again)), (manifest, layer));
}
