//! The deploy artifacts of a fixture build, compared with reviewed golden files (regenerate with
//! `LIFTKIT_BLESS=1 cargo test --test it artifacts_golden`, then review the diff): the two
//! Dockerfiles, compose.yaml and every manifest of kubernetes/, for an app with state, a
//! secret, a per-environment config file and sized resources.

use crate::common::*;
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/report/plan.yaml"
);

const FILES: &[&str] = &[
    "Dockerfile",
    "Dockerfile.maintained",
    "compose.yaml",
    "kubernetes/kustomization.yaml",
    "kubernetes/statefulset.yaml",
    "kubernetes/service.yaml",
    "kubernetes/secret.yaml",
    "kubernetes/configmap.yaml",
    "kubernetes/README.md",
];

#[test]
fn deploy_artifacts_match_their_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut plan = liftkit::plan::load(Path::new(FIXTURE)).unwrap();
    let app = &mut plan.apps[0];
    app.deploy.per_environment = vec!["/etc/billing/billing.conf".to_string()];
    app.deploy.resources = Some(liftkit::plan::Resources {
        cpu_request: "50m".into(),
        cpu_limit: "500m".into(),
        memory_request: "16Mi".into(),
        memory_limit: "64Mi".into(),
        why: "2 processes held 3.0 MiB (PSS) (fixture)".into(),
    });
    liftkit::plan::save(&plan, &d.join("plan.yaml")).unwrap();
    crate::report_golden::write_root(&d.join("root"));
    // A set-user-ID program no package owns: both Dockerfiles give its bits back explicitly.
    set_mode(&d.join("root/opt/billing/bin/billingd"), 0o4755);
    run_ok(
        liftkit()
            .current_dir(d)
            .args(["build", "plan.yaml", "-o", "out"])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    let app_dir = d.join("out/billing");
    let differ: Vec<String> = FILES
        .iter()
        .filter_map(|f| {
            let text =
                std::fs::read_to_string(app_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            golden_diff(&format!("tests/golden/artifacts/{f}"), &text)
        })
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
