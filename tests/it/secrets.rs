//! Planted secrets of every kind are found, listed redacted, and never reach an image layer.

use crate::common;

use common::*;
use liftkit::analyze::{self, Selection};
use liftkit::snapshot::{OpenFile, Process, Snapshot, Socket, User};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// (path in the fixture root, content, the value that must never be in a layer)
const PLANTED: &[(&str, &str, &str)] = &[
    ("/etc/shadow", "root:$6$Zx9salt$hashhashhash:19000:0:99999:7:::\n", "hashhashhash"),
    ("/etc/gshadow", "root:*::\nadm:$6$gsalt$gshadowhash::\n", "gshadowhash"),
    ("/home/app/.pgpass", "db:5432:app:app:pgpass-planted\n", "pgpass-planted"),
    ("/root/.my.cnf", "[client]\nuser = app\npassword = mycnf-planted\n", "mycnf-planted"),
    ("/root/.aws/credentials", "[default]\naws_secret_access_key = awscred-planted\n", "awscred-planted"),
    (
        "/etc/ssl/private/server.key",
        "-----BEGIN PRIVATE KEY-----\nPEMPLANTEDPEMPLANTED\n-----END PRIVATE KEY-----\n",
        "PEMPLANTEDPEMPLANTED",
    ),
    (
        "/home/app/.ssh/id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nSSHPLANTEDSSHPLANTED\n-----END OPENSSH PRIVATE KEY-----\n",
        "SSHPLANTEDSSHPLANTED",
    ),
    ("/etc/app/app.conf", "listen = 8080\ndb_password = conf-planted-pw\n", "conf-planted-pw"),
    ("/etc/app/tokens.ini", "[upstream]\nkey_id = AKIAIOSFODNN7PLANTED\n", "AKIAIOSFODNN7PLANTED"),
    ("/etc/app/session.conf", "session = q8Zr3xT1vL9mK2pW7nB4cY6dF0hJ5sA\n", "q8Zr3xT1vL9mK2pW7nB4cY6dF0hJ5sA"),
    ("/etc/app/users.htpasswd", "alice:$apr1$salt$htpasswdplantedhash\n", "htpasswdplantedhash"),
];
const ENV_SECRETS: &[(&str, &str)] = &[
    ("DB_PASSWORD", "env-planted-password"),
    (
        "UPSTREAM_SESSION",
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZkVOVg",
    ),
];

fn fixture_host(root: &Path) -> Snapshot {
    for (path, content, _) in PLANTED {
        let p = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    // Neither ELF nor a script: the analysis has nothing to resolve, the image still runs it.
    std::fs::write(root.join("usr/bin/app"), "not an ELF file\n").unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/app"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/app/plain.conf"),
        "workers = 4\n# password = commented-out\n",
    )
    .unwrap();
    let mut environ = vec!["PATH=/usr/bin".to_string(), "APP_MODE=prod".to_string()];
    environ.extend(ENV_SECRETS.iter().map(|(k, v)| format!("{k}={v}")));
    let mut fds: Vec<OpenFile> = PLANTED
        .iter()
        .enumerate()
        .map(|(i, (path, _, _))| OpenFile {
            fd: 3 + i as i32,
            target: path.to_string(),
            flags: None,
        })
        .collect();
    fds.push(OpenFile {
        fd: 99,
        target: "/etc/app/plain.conf".to_string(),
        flags: None,
    });
    fds.push(OpenFile {
        fd: 100,
        target: "socket:[4242]".to_string(),
        flags: None,
    });
    let json = serde_json::json!({
        "schema": liftkit::snapshot::SCHEMA_VERSION,
        "liftkit_version": "test",
        "collected_at": "2026-01-01T00:00:00Z",
        "host": { "hostname": "fixture", "kernel": "6.1.0", "arch": "x86_64" },
    });
    let mut snap: Snapshot = serde_json::from_value(json).unwrap();
    snap.users = vec![User {
        name: "root".into(),
        uid: 0,
        gid: 0,
        home: "/root".into(),
        shell: "/bin/sh".into(),
        line: "root:x:0:0:root:/root:/bin/sh".into(),
    }];
    snap.processes = vec![Process {
        pid: 100,
        ppid: 1,
        comm: "app".into(),
        exe: Some("/usr/bin/app".into()),
        cmdline: vec!["/usr/bin/app".into()],
        cwd: Some("/".into()),
        environ,
        fds,
        ..Process::default()
    }];
    snap.sockets = vec![Socket {
        proto: "tcp".into(),
        address: "0.0.0.0".into(),
        port: 8080,
        inode: 4242,
        uid: 0,
        pids: vec![100],
    }];
    snap
}

fn layer_bytes(app_dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    layer_archive(app_dir)
        .into_inner()
        .read_to_end(&mut out)
        .unwrap();
    let manifest = oci_manifest(app_dir);
    let config = oci_blob(app_dir, manifest["config"]["digest"].as_str().unwrap());
    out.extend(std::fs::read(config).unwrap());
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn every_planted_secret_is_found_and_none_is_in_any_layer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let snap = fixture_host(&root);
    let host = liftkit::host::at(&root);
    let analyzers = analyze::spec::load_all(None).unwrap();
    let selected = analyze::select(&snap, &analyzers, &Selection::Pids(vec![100])).unwrap();
    let plan = analyze::plan(
        &snap,
        &host,
        &analyzers,
        &selected,
        &analyze::Options::default(),
    );
    let app = &plan.apps[0];
    for (path, _, _) in PLANTED {
        assert!(
            app.secrets.iter().any(|s| s.path == *path),
            "{path} is listed as a secret: {:#?}",
            app.secrets
        );
    }
    for (key, _) in ENV_SECRETS {
        assert!(
            app.secrets.iter().any(|s| s.path == format!("env:{key}")),
            "{key} is a secret"
        );
        assert!(
            !app.image.env.iter().any(|e| e.starts_with(key)),
            "{key} is not in the image env"
        );
    }
    assert!(
        !app.secrets.iter().any(|s| s.path == "/etc/app/plain.conf"),
        "no false positive"
    );
    let plan_text = liftkit::plan::to_yaml(&plan).unwrap();
    for (_, _, value) in PLANTED {
        assert!(
            !plan_text.contains(value),
            "the plan never holds the value {value}"
        );
    }

    let out = dir.path().join("out");
    let opts = liftkit::build::Options {
        source_date_epoch: Some(0),
        include_secrets: false,
        snapshot: Some(snap.clone()),
        seccomp: false,
    };
    let built = liftkit::build::build_app(&plan, app, &host, &out, &opts).unwrap();
    let layer = layer_bytes(&built.dir);
    for (path, _, value) in PLANTED {
        assert!(!contains(&layer, value), "{path}: its secret is in a layer");
    }
    for (key, value) in ENV_SECRETS {
        assert!(
            !contains(&layer, value),
            "{key}: its value is in a layer or the config"
        );
    }
    assert!(contains(&layer, "workers = 4"), "ordinary config is baked");
    let secrets = built.dir.join("secrets");
    assert_eq!(
        std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let env = std::fs::read_to_string(secrets.join("env")).unwrap();
    assert!(
        env.contains("DB_PASSWORD=env-planted-password"),
        "operator gets the env file"
    );
    for entry in std::fs::read_dir(&secrets).unwrap() {
        let meta = entry.unwrap().metadata().unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "secret files are 0600"
        );
    }
    let run = std::fs::read_to_string(built.dir.join("run.sh")).unwrap();
    assert!(
        run.contains("secrets/etc-ssl-private-server.key:/etc/ssl/private/server.key:ro"),
        "{run}"
    );
    assert!(run.contains("--env-file"), "{run}");

    // --include-secrets bakes them, and says so.
    let baked_opts = liftkit::build::Options {
        include_secrets: true,
        ..opts
    };
    let baked =
        liftkit::build::build_app(&plan, app, &host, &dir.path().join("baked"), &baked_opts)
            .unwrap();
    let layer = layer_bytes(&baked.dir);
    assert!(contains(&layer, "PEMPLANTEDPEMPLANTED") && contains(&layer, "env-planted-password"));
    assert!(baked
        .findings
        .iter()
        .any(|f| f.message.contains("--include-secrets")));
}

#[test]
fn a_live_nginx_with_a_tls_key_and_htpasswd_keeps_them_out_of_the_image_and_still_serves() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    let key = d.join("server.key");
    run_ok(
        std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(d.join("server.crt")),
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        d.join("htpasswd"),
        "alice:$apr1$8sHq2X3d$3c5lS8b0yEjQ1m7ZCq0u4/\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "tls ok\n").unwrap();
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "pid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{}}\nhttp {{ access_log off;\n\
             server {{ listen {port} ssl; ssl_certificate {p}/server.crt; \
             ssl_certificate_key {p}/server.key; root {p}/www;\n\
             location /private/ {{ auth_basic \"x\"; auth_basic_user_file {p}/htpasswd; }} }} }}\n",
            p = d.display()
        ),
    )
    .unwrap();
    run_ok(
        daemon_command("/usr/sbin/nginx")
            .arg("-c")
            .arg(d.join("nginx.conf")),
    );
    assert!(wait_for_port(port, Duration::from_secs(10)));
    let nginx = Daemon {
        pid_file: d.join("nginx.pid"),
    };
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("https://127.0.0.1:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("/"), "200");
    assert_eq!(curl("/private/"), "401");

    let out = d.join("out");
    run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(&out),
    );
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(plan.contains("kind: private key"), "{plan}");
    assert!(plan.contains("kind: password hashes (htpasswd)"), "{plan}");
    let app_dir = app_dir(&out);
    let layer = layer_bytes(&app_dir);
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap();
    assert!(
        !contains(&layer, key_body),
        "the private key is in no layer"
    );
    assert!(
        !contains(&layer, "3c5lS8b0yEjQ1m7ZCq0u4"),
        "the htpasswd hash is in no layer"
    );
    assert!(contains(&layer, "tls ok"), "content is baked");

    let container = format!("liftkit-test-secrets-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted_answering(&app_dir, &container, port);
    assert_eq!(
        curl("/"),
        "200",
        "TLS works with the mounted key:\n{}",
        container_logs(&container)
    );
    assert_eq!(
        curl("/private/"),
        "401",
        "auth works with the mounted htpasswd"
    );
    let _ = podman().args(["rm", "-f", "-t", "2", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));

    // Kubernetes: the key and htpasswd in a Secret (its file 0600, their values nowhere else),
    // mounted where nginx reads them; the pod serves TLS with them.
    // This nginx writes its pid file in the directory of its pages: a scratch volume seeded
    // from the image (an emptyDir the init container fills), so it is a Deployment.
    let docs = crate::deploy_common::kubernetes_validated(&app_dir);
    assert_eq!(
        crate::deploy_common::kinds(&docs),
        ["Deployment", "Secret", "Service"]
    );
    let k8s = app_dir.join("kubernetes");
    assert_eq!(
        std::fs::metadata(k8s.join("secret.yaml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    for entry in std::fs::read_dir(&k8s).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "secret.yaml" {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(key_body), "{} holds no key", path.display());
        }
    }
    use base64::Engine as _;
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    let key_path = key.to_string_lossy().into_owned();
    let key_name = liftkit::plan::volume_name(&key_path);
    let stored = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key_name.as_str()].as_str().unwrap())
        .unwrap();
    assert_eq!(
        stored,
        key_text.as_bytes(),
        "the Secret holds the key as the host has it"
    );
    let mounts = &crate::deploy_common::workload(&docs)["spec"]["template"]["spec"]["containers"]
        [0]["volumeMounts"];
    assert!(
        mounts
            .as_sequence()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"].as_str() == Some(key_path.as_str())
                && m["subPath"].as_str() == Some(key_name.as_str())),
        "mounted where nginx reads it: {mounts:?}"
    );
    let _images = crate::deploy_common::Loaded::images(&app_dir);
    let play = crate::deploy_common::KubePlay::start(&docs, d);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while curl("/") != "200" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        curl("/"),
        "200",
        "the pod serves TLS with the Secret's key:\n{}",
        play.logs()
    );
    assert_eq!(curl("/private/"), "401");
}

/// What the perl daemon below answers: the token's length and checksum, never the token.
fn token_answer(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out.trim().to_string()).filter(|a| !a.is_empty())
}

fn token_answer_within(port: u16, wait: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        if let Some(a) = token_answer(port) {
            return Some(a);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_token_in_a_daemons_environment_reaches_run_sh_and_the_pod_through_secrets_only() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    let token = format!("tok-{port}-k8QzV3nR7xLp2WmY5sTq9");
    // On every address, as a pod's port is reached through the pod's own interface.
    let script = d.join("tokend.pl");
    std::fs::write(
        &script,
        "#!/usr/bin/perl\nuse strict;\nuse warnings;\nuse IO::Socket::INET;\n\
         my $port = shift or die \"usage: tokend PORT\\n\";\n\
         my $token = $ENV{API_TOKEN} // '';\n\
         my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 5,\n  \
         ReuseAddr => 1) or die \"listen: $!\\n\";\n\
         while (my $c = $s->accept) {\n  \
         printf $c \"token of %d bytes, sum %d\\n\", length($token), unpack('%32C*', $token);\n  \
         close $c;\n}\n",
    )
    .unwrap();
    let daemon = Foreground::start(
        daemon_command("/usr/bin/perl")
            .arg(&script)
            .arg(port.to_string())
            .env("API_TOKEN", &token),
    );
    let pid = daemon.pid();
    let original = {
        let _daemon = daemon;
        assert!(wait_for_port(port, Duration::from_secs(10)));
        let original = token_answer(port).expect("the daemon answers");
        assert!(original.starts_with(&format!("token of {} bytes", token.len())));

        let out = d.join("out");
        run_ok(
            liftkit()
                .args(["lift", "--pid"])
                .arg(pid.to_string())
                .arg("-o")
                .arg(&out),
        );
        original
    };
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    let app_dir = app_dir(&d.join("out"));
    let plan = std::fs::read_to_string(app_dir.join("plan.yaml")).unwrap();
    assert!(plan.contains("env:API_TOKEN"), "{plan}");
    assert!(
        !plan.contains(&token),
        "the plan names the secret, not its value"
    );
    assert!(
        !contains(&layer_bytes(&app_dir), &token),
        "the token is in no layer"
    );
    for entry in walkdir::WalkDir::new(&app_dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let p = entry.path();
        let in_secrets = p.starts_with(app_dir.join("secrets"))
            || p.ends_with("kubernetes/secret.yaml")
            || p.starts_with(app_dir.join("oci"))
            || p.ends_with("image.tar");
        if entry.file_type().is_file() && !in_secrets {
            let bytes = std::fs::read(p).unwrap();
            assert!(!contains(&bytes, &token), "{} holds the token", p.display());
        }
    }

    // run.sh passes it from secrets/env: the lifted daemon answers as the original.
    let container = format!("liftkit-test-token-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);
    start_lifted(&app_dir, &container);
    assert_eq!(
        token_answer_within(port, Duration::from_secs(30)).as_deref(),
        Some(original.as_str()),
        "{}",
        container_logs(&container)
    );
    let _ = podman().args(["rm", "-f", "-t", "2", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));

    // Kubernetes: the token in a Secret the container takes as its environment (envFrom).
    let docs = crate::deploy_common::kubernetes_validated(&app_dir);
    assert_eq!(
        crate::deploy_common::kinds(&docs),
        ["Deployment", "Secret", "Service"]
    );
    let c = &crate::deploy_common::workload(&docs)["spec"]["template"]["spec"]["containers"][0];
    assert!(
        c["envFrom"][0]["secretRef"]["name"].as_str().is_some(),
        "{c:?}"
    );
    let _images = crate::deploy_common::Loaded::images(&app_dir);
    let play = crate::deploy_common::KubePlay::start(&docs, d);
    assert_eq!(
        token_answer_within(port, Duration::from_secs(60)).as_deref(),
        Some(original.as_str()),
        "the pod has the token from its Secret:\n{}",
        play.logs()
    );
}
