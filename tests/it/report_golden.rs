//! report.md of a fixture build, compared with a reviewed golden file (regenerate with
//! `LIFTKIT_BLESS=1 cargo test --test report_golden`, then review the diff), plus the report
//! model's sorting checked directly, and a verify result added after the build.

use crate::common;

use common::*;
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/report/plan.yaml"
);

/// The billing service's files, with fixed contents and modes so the image digests are stable.
pub fn write_root(root: &Path) {
    let files: [(&str, &[u8], u32); 7] = [
        (
            "etc/billing/billing.conf",
            b"listen 0.0.0.0:8443\nrates /var/lib/billing/rates.db\n",
            0o644,
        ),
        (
            "etc/billing/server.key",
            b"-----BEGIN PRIVATE KEY-----\nnot a real key\n",
            0o600,
        ),
        (
            "opt/billing/bin/billingd",
            &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0],
            0o755,
        ),
        ("opt/billing/lib/libledger.so.1", &[0u8; 4000], 0o644),
        ("usr/lib/x86_64-linux-gnu/libfx.so.3", &[1u8; 12000], 0o644),
        ("var/lib/billing/rates.db", &[2u8; 2048], 0o640),
        ("var/log/billing/audit.log", b"2024-01-01 started\n", 0o640),
    ];
    for (path, content, mode) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        set_mode(&p, mode);
    }
    std::fs::create_dir_all(root.join("run/billing")).unwrap();
}

fn build(dir: &Path) -> std::path::PathBuf {
    std::fs::copy(FIXTURE, dir.join("plan.yaml")).unwrap();
    write_root(&dir.join("root"));
    run_ok(
        liftkit()
            .current_dir(dir)
            .args(["build", "plan.yaml", "-o", "out"])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    dir.join("out/billing")
}

#[test]
fn report_md_matches_the_golden_file() {
    let tmp = tempfile::tempdir().unwrap();
    let app = build(tmp.path());
    let md = std::fs::read_to_string(app.join("report.md")).unwrap();
    assert_golden_file("tests/golden/report.md", &md);
    // Markdown tables survive a `|` in a command line.
    assert!(md.contains("`billingd: worker \\| queue`"));
}

#[test]
fn report_sorts_findings_redacts_secrets_and_takes_a_verify_result() {
    let tmp = tempfile::tempdir().unwrap();
    let app = build(tmp.path());
    let report = liftkit::report::load(&app).unwrap();
    assert_eq!(report.files.total, 7);
    let roles: Vec<&str> = report
        .files
        .groups
        .iter()
        .map(|g| g.role.as_str())
        .collect();
    assert_eq!(roles, ["code", "config", "state", "log", "secret"]);
    let subjects = |rows: &[liftkit::report::FindingRow]| -> Vec<String> {
        rows.iter().map(|r| r.subject.clone()).collect()
    };
    assert_eq!(subjects(&report.findings.blockers), ["/dev/ttyS1"]);
    assert_eq!(subjects(&report.findings.unreadable), ["pid 2211"]);
    assert_eq!(
        subjects(&report.findings.guessed),
        ["/etc/billing/billing.conf"]
    );
    // The build adds its own: a place the app writes left on the read-only root, and the
    // volume copied from a running source.
    assert_eq!(
        subjects(&report.findings.notes),
        ["/var/spool/billing", "/var/lib/billing", "billing"]
    );
    let h = &report.hardening;
    assert!(h.read_only && h.no_new_privileges);
    assert_eq!(h.capabilities[0].name, "CAP_IPC_LOCK");
    assert_eq!(h.unplaced[0].name, "/var/spool/billing");
    assert!(h.profile_syscalls > h.app_syscalls && h.app_syscalls == 5);
    assert_eq!(report.sizes.host_packages_bytes, (96 + 40) * 1024);
    assert_eq!(report.sizes.packages.len(), 2);
    assert_eq!(
        report.volumes.rows[0].bytes, 2048,
        "the populated volume's size"
    );
    assert_eq!(report.volumes.rows[1].kind, "tmpfs");
    assert_eq!(report.env.dropped.len(), 2);
    assert_eq!(report.secrets.len(), 1);
    assert!(report.secrets[0].handling.starts_with("value redacted"));
    for name in ["report.md", "report.html", "report.json"] {
        let text = std::fs::read_to_string(app.join(name)).unwrap();
        assert!(
            !text.contains("not a real key"),
            "{name} must not carry a secret's content"
        );
        assert!(
            !text.contains("BEGIN PRIVATE KEY"),
            "{name} must not carry a secret's content"
        );
    }
    let podman = &report.run.podman[1];
    assert!(
        podman.contains("-v $PWD/out/billing/volumes/var-lib-billing:/var/lib/billing"),
        "{podman}"
    );
    assert!(podman.contains("--tmpfs /run/billing"), "{podman}");
    assert!(podman
        .contains("-v $PWD/out/billing/secrets/etc-billing-server.key:/etc/billing/server.key:ro"));
    assert!(report.verify.is_none());
    assert!(std::fs::read_to_string(app.join("report.md"))
        .unwrap()
        .contains("Verification: not run."));

    let verify = liftkit::report::VerifySummary {
        passed: false,
        summary: "1 of 2 probes answered like the original".to_string(),
        checks: vec![
            liftkit::report::VerifyCheck {
                name: "tcp 8443".to_string(),
                passed: true,
                detail: "connected".to_string(),
            },
            liftkit::report::VerifyCheck {
                name: "GET /health".to_string(),
                passed: false,
                detail: "503 instead of 200".to_string(),
            },
        ],
    };
    liftkit::report::set_verify(&app, verify).unwrap();
    let md = std::fs::read_to_string(app.join("report.md")).unwrap();
    assert!(
        md.contains("**failed**: 1 of 2 probes answered like the original"),
        "{md}"
    );
    assert!(md.contains("- FAIL: GET /health: 503 instead of 200"));
    assert!(!md.contains("not run"));
    let html = std::fs::read_to_string(app.join("report.html")).unwrap();
    assert!(html.contains("<span class=\"fail\">fail</span></td><td>503 instead of 200</td>"));
}
