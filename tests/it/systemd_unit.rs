//! What a systemd unit says about a service reaches the plan: the foreground command, its
//! environment, working directory, limits, capabilities, state/runtime/log directories, stop
//! signal and restart policy; what a container cannot express is reported.

use liftkit::analyze::{self, Selection};
use liftkit::plan::VolumeKind;
use liftkit::snapshot::{Process, Snapshot};
use std::path::Path;

fn snapshot() -> Snapshot {
    let mut snap: Snapshot = serde_json::from_value(serde_json::json!({
        "schema": liftkit::snapshot::SCHEMA_VERSION,
        "liftkit_version": "test",
        "collected_at": "2026-01-01T00:00:00Z",
        "host": { "hostname": "fixture", "kernel": "6.1.0", "arch": "x86_64" },
    }))
    .unwrap();
    snap.processes = vec![Process {
        pid: 500,
        ppid: 1,
        comm: "acmed".into(),
        exe: Some("/opt/acme/bin/acmed".into()),
        // The process rewrote its title: only the unit knows the real command.
        cmdline: vec!["acmed: worker".into()],
        unit: Some("acme.service".into()),
        ..Process::default()
    }];
    snap
}

#[test]
fn the_unit_is_carried_into_the_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/systemd-service/root");
    let snap = snapshot();
    let analyzers = analyze::spec::load_all(None).unwrap();
    let selected = analyze::select(&snap, &analyzers, &Selection::Pids(vec![500])).unwrap();
    assert_eq!(selected[0].name, "acme", "named after its unit");
    let plan = analyze::plan(
        &snap,
        &liftkit::host::at(&root),
        &analyzers,
        &selected,
        &analyze::Options::default(),
    );
    let app = &plan.apps[0];
    let img = &app.image;
    assert_eq!(
        img.entrypoint,
        [
            "/opt/acme/bin/acmed",
            "--foreground",
            "--config",
            "/etc/acme/acme.conf"
        ]
    );
    assert!(
        img.env.contains(&"ACME_MODE=production".to_string()),
        "{:?}",
        img.env
    );
    assert!(img.env.contains(&"ACME_WORKERS=4".to_string()));
    assert!(
        !img.env.iter().any(|e| e.starts_with("DB_PASSWORD")),
        "a credential is not baked"
    );
    assert!(app.secrets.iter().any(|s| s.path == "env:DB_PASSWORD"));
    assert_eq!(img.workdir, "/opt/acme");
    assert_eq!(img.rlimits["nofile"], (65536, 65536), "the drop-in wins");
    assert!(
        app.hardening.grants("CAP_NET_BIND_SERVICE"),
        "the unit's AmbientCapabilities=: {:?}",
        app.hardening.capabilities
    );
    assert_eq!(img.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(img.restart.as_deref(), Some("always"));
    let vol = |p: &str| {
        app.volumes
            .iter()
            .find(|v| v.path == p)
            .unwrap_or_else(|| panic!("{p}: {:?}", app.volumes))
    };
    assert_eq!(vol("/var/lib/acme").kind, VolumeKind::Volume);
    assert!(vol("/var/lib/acme").populate);
    assert_eq!(vol("/run/acme").kind, VolumeKind::Tmpfs);
    assert!(app.dirs.iter().any(|d| d.path == "/var/log/acme"));
    let said = |needle: &str| app.findings.iter().any(|f| f.message.contains(needle));
    assert!(
        said("ordering between units is not carried"),
        "{:#?}",
        app.findings
    );
    assert!(
        said("socket activation cannot be carried"),
        "{:#?}",
        app.findings
    );
}
