//! The companions beside an image work in the tools they are for: the Dockerfile rebuilds the
//! image from its own layer with `podman build` (nothing pulled), `podman kube play` runs the
//! Kubernetes manifest, and compose.yaml follows the current Compose specification.

use crate::common;

use common::*;
use std::time::Duration;

#[test]
fn dockerfile_and_kubernetes_manifest_run_the_lifted_nginx() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/index.html"), "companions\n").unwrap();
    let nginx = start_nginx(d, port);
    let original = http_get(port, "/");
    let out = d.join("out");
    run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(&out),
    );
    nginx.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    let app = app_dir(&out);

    let compose: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(app.join("compose.yaml")).unwrap())
            .unwrap();
    assert!(
        compose.get("version").is_none(),
        "the Compose specification has no version key"
    );
    let services = compose["services"].as_mapping().unwrap();
    let service = services.values().next().unwrap();
    assert_eq!(service["network_mode"].as_str(), Some("host"));
    assert!(service["image"]
        .as_str()
        .unwrap()
        .starts_with("localhost/liftkit/nginx"));

    // SBOM: CycloneDX 1.5, checked against the standard's own schema.
    let sbom_path = app.join("sbom.cdx.json");
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sbom_path).unwrap()).unwrap();
    let check = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\n\
             from cyclonedx.schema import SchemaVersion\n\
             e = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
             print(str(e)[:400] if e else 'valid')",
        )
        .arg(&sbom_path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "valid",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:deb/debian/nginx")),
        "{purls:?}"
    );
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:deb/debian/libc6@")),
        "{purls:?}"
    );

    // Dockerfile: FROM scratch + the layer.
    let tag = format!("localhost/liftkit-test/dockerfile-{port}:1");
    let container = format!("liftkit-test-dockerfile-{port}");
    let _cleanup = Cleanup {
        container: container.clone(),
        image: tag.clone(),
    };
    run_ok(
        podman()
            .args(["build", "-q", "-t", &tag, "-f"])
            .arg(app.join("Dockerfile"))
            .arg(&app),
    );
    run_ok(
        podman()
            .args(["run", "-d", "--name", &container, "--network", "host"])
            .args(ENGINE_RUN_FLAGS.split_whitespace())
            .arg(&tag),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "{}",
        container_logs(&container)
    );
    assert_eq!(
        http_get(port, "/"),
        original,
        "the Dockerfile's image answers as the original"
    );
    let _ = podman().args(["rm", "-f", "-t", "2", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));

    // Kubernetes: podman's own player, with this machine's rlimits as its default.
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("build.json")).unwrap()).unwrap();
    let image = build["image"].as_str().unwrap().to_string();
    let _image_cleanup = Cleanup {
        container: "unused".into(),
        image,
    };
    run_ok(
        podman()
            .args(["load", "-q", "-i"])
            .arg(app.join("image.tar")),
    );
    let conf = d.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=1024:1024\"]\n",
    )
    .unwrap();
    let manifest = app.join("kubernetes.yaml");
    run_ok(
        podman()
            .args(["kube", "play"])
            .arg(&manifest)
            .env("CONTAINERS_CONF", &conf),
    );
    let up = wait_for_port(port, Duration::from_secs(30));
    let answer = up.then(|| http_get(port, "/"));
    let _ = podman()
        .args(["kube", "down"])
        .arg(&manifest)
        .env("CONTAINERS_CONF", &conf)
        .output();
    assert_eq!(answer, Some(original), "the Pod answers as the original");
}
