//! On a merged-/usr host a library is reached as `/lib/…` and `/usr/lib/…`, and a plan may name
//! it both ways: the image stores it once, and the report counts it once, under the path the
//! image holds, with the other name among the links.

use crate::common;

use common::*;
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/report/plan.yaml"
);
const LIB: &str = "/usr/lib/x86_64-linux-gnu/libfx.so.3";
const ALIAS: &str = "/lib/x86_64-linux-gnu/libfx.so.3";

fn merged_usr_root(root: &Path) {
    for (path, bytes) in [
        (
            "opt/billing/bin/billingd",
            vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0],
        ),
        ("usr/lib/x86_64-linux-gnu/libfx.so.3", vec![1u8; 12000]),
        ("opt/billing/lib/libledger.so.1", vec![0u8; 4000]),
        (
            "etc/billing/billing.conf",
            b"listen 0.0.0.0:8443\n".to_vec(),
        ),
        ("var/lib/billing/rates.db", vec![2u8; 2048]),
        ("var/log/billing/audit.log", b"started\n".to_vec()),
        (
            "etc/billing/server.key",
            b"-----BEGIN PRIVATE KEY-----\nx\n".to_vec(),
        ),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
}

#[test]
fn a_library_named_under_lib_and_usr_lib_is_counted_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let plan = std::fs::read_to_string(FIXTURE).unwrap();
    let entry = format!("  - path: {LIB}\n");
    assert!(plan.contains(&entry), "the fixture names {LIB}");
    let both = plan.replace(
        &entry,
        &format!(
            "  - path: {ALIAS}\n    role: code\n    why: ['found by the loader as {ALIAS}']\n    \
             package: libfx3\n{entry}"
        ),
    );
    std::fs::write(d.join("plan.yaml"), both).unwrap();
    merged_usr_root(&d.join("root"));
    run_ok(
        liftkit()
            .current_dir(d)
            .args(["build", "plan.yaml", "-o", "out"])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let app = d.join("out/billing");
    let report = liftkit::report::load(&app).unwrap();

    assert_eq!(report.files.total, 7, "8 names, 7 files");
    let code = &report.files.groups[0];
    assert_eq!(code.role, "code");
    let libs: Vec<_> = code
        .files
        .iter()
        .filter(|f| f.path.ends_with("libfx.so.3"))
        .collect();
    assert_eq!(libs.len(), 1, "one row for the library: {:#?}", code.files);
    assert_eq!(libs[0].path, LIB, "under the path the image holds");
    assert_eq!(libs[0].bytes, 12000);
    assert!(
        libs[0]
            .why
            .iter()
            .any(|w| w.contains("found by the loader")),
        "the reasons of both names are kept: {:?}",
        libs[0].why
    );
    for g in &report.files.groups {
        assert_eq!(
            g.count,
            g.files.len(),
            "{}: the count is the rows shown",
            g.role
        );
        assert_eq!(
            g.bytes,
            g.files.iter().map(|f| f.bytes).sum::<u64>(),
            "{}: the size is the rows' sum",
            g.role
        );
    }
    let link = report
        .files
        .links
        .iter()
        .find(|l| l.path == ALIAS)
        .unwrap_or_else(|| panic!("{ALIAS} shown as a link: {:#?}", report.files.links));
    assert_eq!(link.target, LIB);
    assert!(link.why.contains("/lib"), "{}", link.why);
    let fx = report
        .sizes
        .packages
        .iter()
        .find(|p| p.name == "libfx3")
        .unwrap();
    assert_eq!(fx.files, 1, "the package table counts the file once too");

    let layer = layer_paths(&app);
    assert!(layer.iter().any(|p| p == LIB.trim_start_matches('/')));
    let md = std::fs::read_to_string(app.join("report.md")).unwrap();
    assert_eq!(
        md.matches(&format!("`{LIB}`")).count(),
        2,
        "the file row and the link's target:\n{md}"
    );
    assert!(md.contains(&format!("| `{ALIAS}` | `{LIB}` |")), "{md}");
}
