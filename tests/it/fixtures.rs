//! Analysis of recorded hosts under samples/: each stage a function of its input, checked against
//! golden plans (regenerate with LIFTKIT_BLESS=1) and against the facts that matter.

use liftkit::analyze::{self, Selection};
use liftkit::plan::{AppPlan, Role, VolumeKind};
use std::path::Path;

fn plan_of(fixture: &str) -> (liftkit::plan::Plan, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(fixture);
    let snap = liftkit::snapshot::load(&dir.join("snapshot.json")).unwrap();
    let analyzers = analyze::spec::load_all(None).unwrap();
    let selected = analyze::select(&snap, &analyzers, &Selection::All).unwrap();
    let opts = analyze::Options {
        cpu_level: None,
        source_root: format!("samples/{fixture}/root"),
        snapshot_path: format!("samples/{fixture}/snapshot.json"),
        ..Default::default()
    };
    let plan = analyze::plan(
        &snap,
        &liftkit::host::at(dir.join("root")),
        &analyzers,
        &selected,
        &opts,
    );
    let yaml = liftkit::plan::to_yaml(&plan).unwrap();
    // The sample's own plan.golden.yaml, beside the snapshot it comes from.
    crate::common::assert_golden_file(&format!("samples/{fixture}/plan.golden.yaml"), &yaml);
    (plan, yaml)
}

fn file<'a>(app: &'a AppPlan, path: &str) -> &'a liftkit::plan::FileEntry {
    app.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not in the plan"))
}

#[test]
fn nginx_fixture_follows_includes_modules_docroots_and_logs() {
    let (plan, _) = plan_of("nginx");
    let app = &plan.apps[0];
    assert_eq!(app.analyzer, "nginx");
    assert_eq!(app.processes.len(), 3, "master and two workers are one app");
    for conf in [
        "/etc/nginx/nginx.conf",
        "/etc/nginx/conf.d/site.conf",
        "/etc/nginx/mime.types",
    ] {
        assert_eq!(file(app, conf).role, Role::Config);
    }
    assert!(
        file(app, "/usr/share/nginx/modules/ngx_http_echo_module.so").why[0]
            .contains("mapped by pid 100")
    );
    assert!(file(app, "/var/www/html/index.html").why[0].contains("content"));
    assert!(
        file(app, "/srv/static/site.css").why[0].contains("content"),
        "alias is a document root"
    );
    assert_eq!(
        app.image.entrypoint,
        [
            "/usr/sbin/nginx",
            "-c",
            "/etc/nginx/nginx.conf",
            "-g",
            "daemon off;"
        ]
    );
    assert!(app
        .links
        .iter()
        .any(|l| l.path == "/var/log/nginx/access.log" && l.target == "/dev/stdout"));
    assert!(
        !app.files
            .iter()
            .any(|f| f.path == "/var/log/nginx/access.log"),
        "logs are not baked"
    );
    assert!(
        app.generated[0].content.contains("www-data:x:33"),
        "the worker user is in passwd"
    );
    assert_eq!(app.image.ports, ["80/tcp"]);
    assert!(
        app.hardening.grants("CAP_NET_BIND_SERVICE")
            && app.hardening.grants("CAP_SETUID")
            && app.hardening.grants("CAP_SETGID"),
        "port 80, a root master with www-data workers: {:?}",
        app.hardening.capabilities
    );
    assert!(app.hardening.read_only && app.hardening.no_new_privileges);
    assert_eq!(
        app.hardening.own_user.as_ref().map(|o| o.user.as_str()),
        Some("www-data"),
        "root only to bind 80 and switch user: it may run as www-data"
    );
    assert!(
        !app.image.env.iter().any(|e| e.starts_with("INVOCATION_ID")),
        "supervisor noise dropped"
    );
}

#[test]
fn redis_fixture_finds_its_config_through_a_fact_and_keeps_its_data() {
    let (plan, _) = plan_of("redis");
    let app = &plan.apps[0];
    assert_eq!(app.analyzer, "redis");
    assert_eq!(
        app.image.entrypoint[..2],
        ["/usr/bin/redis-server", "/etc/redis/redis.conf"]
    );
    assert!(file(app, "/usr/bin/redis-server")
        .why
        .iter()
        .any(|w| w.contains("analyzer redis")));
    let data = app
        .volumes
        .iter()
        .find(|v| v.path == "/var/lib/redis")
        .expect("data volume");
    assert_eq!(data.kind, VolumeKind::Volume);
    assert!(data.populate);
    assert!(
        app.volumes
            .iter()
            .any(|v| v.path == "/run/redis" && v.kind == VolumeKind::Tmpfs),
        "unit RuntimeDirectory"
    );
    assert_eq!(
        app.image.rlimits["nofile"],
        (65535, 65535),
        "unit LimitNOFILE"
    );
    assert_eq!(app.image.restart.as_deref(), Some("always"));
    assert_eq!(app.image.user, "redis");
    assert!(
        app.image.name.ends_with(":7.0.15-1-deb12u1"),
        "{}",
        app.image.name
    );
}
