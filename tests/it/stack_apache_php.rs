//! Lifts a real, daemonized Apache httpd with mod_php (its own server root, Debian's PHP ini
//! files) and proves the PHP page that needs the mbstring extension answers the same from the
//! image: `liftkit verify` compares both, then the lifted container is asked directly.

use crate::common;
use crate::deploy_common::*;

use common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/apache-php");
/// What `mb_strtoupper` answers; `strtoupper` cannot turn "ß" into "SS".
const MBSTRING_OUTPUT: &str = "mbstring: GRÜSSE AUS DEM CONTAINER\n";

fn copy_fixture(to: &Path, port: u16) {
    for rel in ["httpd.conf", "conf.d/php.conf", "www/index.php"] {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(Path::new(FIXTURE).join(rel)).unwrap();
        std::fs::write(dest, text.replace("@PORT@", &port.to_string())).unwrap();
    }
    for dir in ["run", "logs"] {
        std::fs::create_dir_all(to.join(dir)).unwrap();
    }
}

/// `apache2 -d DIR -f httpd.conf -k start`: the server daemonizes, as under a SysV script.
fn start_apache(dir: &Path, port: u16) -> Daemon {
    run_ok(
        daemon_command("/usr/sbin/apache2")
            .env("SITE_ROOT", dir.join("www"))
            .arg("-d")
            .arg(dir)
            .args(["-f", "httpd.conf", "-k", "start"]),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(15)),
        "apache did not start: {}",
        std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
    );
    Daemon {
        pid_file: dir.join("run/httpd.pid"),
    }
}

/// PHP's extension directory on this host (`/usr/lib/php/<API>`), found by its mbstring.so.
fn mbstring_so() -> PathBuf {
    std::fs::read_dir("/usr/lib/php")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("mbstring.so")))
        .find(|p| p.exists())
        .expect("php8.2-mbstring installs mbstring.so under /usr/lib/php/<API>/")
}

#[test]
fn lifted_apache_mod_php_page_answers_like_the_original() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    copy_fixture(d, port);
    let apache = start_apache(d, port);
    let (status, body) = http_get(port, "/");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(MBSTRING_OUTPUT),
        "the host's PHP runs mbstring: {body}"
    );

    let out = d.join("out");
    let lift = run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(apache.pid().to_string())
            .arg("-o")
            .arg(&out)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS),
    );
    let summary = String::from_utf8_lossy(&lift.stdout);
    eprintln!("{summary}");
    let app_dir = app_dir(&out);
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(plan.contains("analyzer: apache"), "{plan}");
    let entrypoint = format!(
        "entrypoint:\n    - /usr/sbin/apache2\n    - -d\n    - {}\n    - -f\n    - httpd.conf\n    - -DFOREGROUND\n",
        d.display()
    );
    assert!(
        plan.contains(&entrypoint),
        "foreground entrypoint: the original command without -k start:\n{plan}"
    );
    assert!(
        plan.contains("php: extension mbstring.so named by an ini file"),
        "the extension is taken because an ini file names it:\n{plan}"
    );

    // The ini files that make PHP load mbstring (a link into mods-available), the extension and
    // the library it needs, the document root found through ${SITE_ROOT}, the LoadModule'd mods.
    let paths = layer_paths(&app_dir);
    let mbstring = mbstring_so();
    let rel = |p: &Path| p.to_string_lossy().trim_start_matches('/').to_string();
    for wanted in [
        "etc/php/8.2/apache2/php.ini".to_string(),
        "etc/php/8.2/apache2/conf.d/20-mbstring.ini".to_string(),
        "etc/php/8.2/mods-available/mbstring.ini".to_string(),
        rel(&mbstring),
        "usr/lib/apache2/modules/libphp8.2.so".to_string(),
        "usr/lib/apache2/modules/mod_dir.so".to_string(),
        rel(&d.join("www/index.php")),
        rel(&d.join("conf.d/php.conf")),
    ] {
        assert!(paths.contains(&wanted), "{wanted} in the layer");
    }
    assert!(
        paths.iter().any(|p| p.contains("libonig.so.5")),
        "mbstring's own library (libonig) in the layer"
    );
    for forbidden in ["bin/sh", "usr/bin/sh", "usr/bin/dash", "usr/bin/php8.2"] {
        assert!(
            !paths.iter().any(|p| p == forbidden),
            "{forbidden} must not be in the image"
        );
    }

    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    let image = build["image"].as_str().unwrap().to_string();
    let container = format!("liftkit-test-apache-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image,
    };

    // verify: the lifted image in its own network namespace against the running original.
    let report = verify_same(&app_dir, &[]);
    let page = &report["probes"][0]["lifted"]["Http"];
    assert_eq!(page["status"], 200, "{report:#}");
    assert_eq!(
        page["body_sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(body.as_bytes())),
        "the lifted page is byte for byte the host's, mbstring output included"
    );
    assert_eq!(report["probes"][1]["lifted"]["Http"]["status"], 404);

    // And directly: the original steps aside, the lifted server takes its port.
    apache.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(15)));
    start_lifted_answering(&app_dir, &container, port);
    let (status, lifted) = http_get(port, "/");
    let lifted = String::from_utf8_lossy(&lifted).into_owned();
    assert_eq!(status, 200, "{lifted}\n{}", container_logs(&container));
    assert!(lifted.contains(MBSTRING_OUTPUT), "{lifted}");
    assert!(lifted.contains("sapi: apache2handler"), "{lifted}");
    let logs = container_logs(&container);
    assert!(
        logs.contains("\"GET / HTTP/1.0\" 200"),
        "the access log goes to the engine's log:\n{logs}"
    );
    let kept = assert_hardened(&app_dir, &container);
    assert_verified_hardened(&app_dir, &report);
    eprintln!("table: apache-php | {kept:?} | same");

    let _ = podman().args(["rm", "-f", "-t", "2", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(15)));

    // What a platform team takes: syft reads the packages, the manifests validate, the
    // maintained Dockerfile names every package and every file no package gives.
    let (seen, planned) = syft_sees_the_plan(&app_dir);
    eprintln!("apache+php: syft {seen} / plan {planned} packages");
    assert_eq!(
        kinds(&kubernetes_validated(&app_dir)),
        ["Service", "StatefulSet"],
        "apache writes beside its files (a volume seeded from the image): a StatefulSet"
    );
    maintained_dockerfile_checked(&app_dir);

    // The exact Dockerfile's image answers the same page.
    let tag = format!("localhost/liftkit-test/apache-dockerfile-{port}:1");
    let rebuilt_container = dockerfile_rebuilt(&app_dir, &tag, &format!("{container}-dockerfile"));
    let (status, rebuilt) = http_when_ready(port, "/").expect("the rebuilt apache answers");
    assert_eq!(
        (status, String::from_utf8_lossy(&rebuilt).into_owned()),
        (200, lifted.clone())
    );
    drop(rebuilt_container);
    assert!(wait_for_port_closed(port, Duration::from_secs(15)));

    // Kubernetes, played: the pod on the cluster's network answers the same page.
    let (status, page) = http_through_kube_play(&app_dir, d, port, "/", Duration::from_secs(60))
        .unwrap_or_else(|logs| panic!("no answer from the pod:\n{logs}"));
    assert_eq!(
        (status, String::from_utf8_lossy(&page).into_owned()),
        (200, lifted)
    );
}
