//! The outputs beside an image, in the tools a platform team uses them with: syft reads the
//! image's packages, the SBOM is attached to the image in the OCI layout, the exact Dockerfile
//! rebuilds an image with the same files and owners that answers the same, the maintained one
//! names every package and every file no package gives, compose.yaml reads in podman-compose and
//! its health check runs, and the Kubernetes manifests validate and run under `podman kube play`.

use crate::common::*;
use crate::deploy_common::*;
use std::time::Duration;

/// nginx as servers run it: on every address of the host, so it answers inside a pod too.
fn start_nginx_everywhere(dir: &std::path::Path, port: u16) -> Daemon {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "companions\n").unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
               server {{\n    listen {port};\n    root {d}/www;\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(daemon_command("/usr/sbin/nginx").arg("-c").arg(&conf));
    assert!(wait_for_port(port, Duration::from_secs(10)));
    Daemon {
        pid_file: dir.join("nginx.pid"),
    }
}

#[test]
fn the_outputs_work_in_the_tools_they_are_for() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    let nginx = start_nginx_everywhere(d, port);
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
    let plan = liftkit::plan::load(&app.join("plan.yaml")).unwrap();
    let image = plan.apps[0].image.name.clone();

    // Scanners: syft sees every package of the plan, with its version, and no other.
    let (seen, planned) = syft_sees_the_plan(&app);
    eprintln!("nginx: syft {seen} / plan {planned} packages");

    // The SBOM: the same bytes beside the image, inside it, and attached to it as a referrer.
    let sbom = std::fs::read(app.join("sbom.cdx.json")).unwrap();
    let layer_sbom = format!("var/lib/db/sbom/{}.cdx.json", plan.apps[0].slug());
    assert!(
        layer_paths(&app).contains(&layer_sbom),
        "{layer_sbom} in the image"
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("oci/index.json")).unwrap())
            .unwrap();
    let blob = |digest: &str| {
        std::fs::read(
            app.join("oci/blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index:#}");
    assert_eq!(
        manifests[1]["artifactType"],
        "application/vnd.cyclonedx+json"
    );
    let referrer: serde_json::Value =
        serde_json::from_slice(&blob(manifests[1]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(referrer["subject"]["digest"], manifests[0]["digest"]);
    assert_eq!(
        blob(referrer["layers"][0]["digest"].as_str().unwrap()),
        sbom
    );
    liftkit::build::oci::verify_layout(&app.join("oci")).unwrap();

    // The exact Dockerfile: FROM scratch + rootfs/, every path, owner and mode as in the image.
    let dockerfile = std::fs::read_to_string(app.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM scratch\n") && dockerfile.contains("\nCOPY rootfs/ /\n"));
    assert!(
        dockerfile.contains("# The user it ran as on the source"),
        "{dockerfile}"
    );
    let tag = format!("localhost/liftkit-test/dockerfile-{port}:1");
    let container = format!("liftkit-test-dockerfile-{port}");
    let rebuilt = dockerfile_rebuilt(&app, &tag, &container);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "{}",
        container_logs(&container)
    );
    assert_eq!(
        http_get(port, "/"),
        original,
        "the rebuilt image answers as the original"
    );

    // compose.yaml's health check, run against the app as the engine would run it.
    let compose = compose_read(&app);
    let service = compose["services"]
        .as_mapping()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(service["network_mode"].as_str(), Some("host"));
    let test: Vec<String> = service["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(test[..4], ["CMD", "/run/liftkit/probe", "probe", "http"]);
    let probe = |args: &[String]| {
        std::process::Command::new(app.join("liftkit-probe"))
            .args(args)
            .status()
            .unwrap()
            .success()
    };
    assert!(
        probe(&test[2..]),
        "the health check passes while the app answers"
    );
    let loaded = image_tree(&{
        run_ok(
            podman()
                .args(["load", "-q", "-i"])
                .arg(app.join("image.tar")),
        );
        image.clone()
    });
    let _image = Cleanup {
        container: "unused".into(),
        image: image.clone(),
    };
    let from_dockerfile = image_tree(&tag);
    assert_eq!(
        from_dockerfile, loaded,
        "the Dockerfile's image holds the same paths, owners and modes"
    );
    drop(rebuilt);
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    assert!(
        !probe(&test[2..]),
        "the health check fails when the app is gone"
    );
    maintained_dockerfile_checked(&app);

    // Dockerfile.maintained, built for real: no registry is reachable here, so its base is made
    // with debootstrap from the archive apt uses (scripts/build-maintained.sh), and the release's
    // current versions are taken (the host's exact ones may have left the archive since).
    let maintained = format!("localhost/liftkit-test/maintained-{port}:1");
    let maintained_name = format!("liftkit-test-maintained-{port}");
    let _maintained = Cleanup {
        container: maintained_name.clone(),
        image: maintained.clone(),
    };
    run_ok(
        std::process::Command::new("sh")
            .arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("scripts/build-maintained.sh"),
            )
            .arg(&app)
            .arg(&maintained)
            .env("ENGINE", ENGINE)
            .env("BUILD_ARGS", "--build-arg VERSIONS=latest"),
    );
    run_ok(
        podman()
            .args(["run", "-d", "--name", &maintained_name, "--network", "host"])
            .args(ENGINE_RUN_FLAGS.split_whitespace())
            .arg(&maintained),
    );
    assert_eq!(
        http_when_ready(port, "/"),
        Some(original.clone()),
        "the maintained image, on Debian's packages, answers as the original:\n{}",
        container_logs(&maintained_name)
    );
    let _ = podman()
        .args(["rm", "-f", "-t", "2", &maintained_name])
        .output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));

    // Kubernetes: the schema, then podman's player; the app answers through the published port.
    // This nginx writes its pid file beside its pages: the hardened plan makes that directory
    // a volume seeded from the image, scratch (a pid file is no state), so the workload is a
    // Deployment whose emptyDir the init container fills from the data image at each start.
    let docs = kubernetes_validated(&app);
    assert_eq!(kinds(&docs), ["Deployment", "Service"]);
    let pod = &workload(&docs)["spec"]["template"]["spec"];
    let scratch: Vec<&str> = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|v| v["emptyDir"].is_mapping() && v["emptyDir"]["medium"].is_null())
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(scratch.len(), 1, "the pages' directory: {pod:?}");
    assert!(
        pod["initContainers"][0]["volumeMounts"][0]["name"].as_str() == Some(scratch[0]),
        "filled by the init container: {pod:?}"
    );
    let container = &workload(&docs)["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/")
    );
    assert_eq!(
        container["livenessProbe"]["tcpSocket"]["port"].as_u64(),
        Some(port as u64)
    );
    assert!(container["resources"]["limits"]["memory"]
        .as_str()
        .is_some());
    assert!(
        workload(&docs)["spec"]["template"]["spec"]["hostNetwork"].is_null(),
        "cluster networking by default"
    );
    let _images = Loaded::images(&app);
    let play = KubePlay::start(&docs, d);
    let answer = http_when_ready(port, "/");
    assert_eq!(
        answer,
        Some(original.clone()),
        "the pod answers as the original:\n{}",
        play.logs()
    );
    drop(play);
    assert!(wait_for_port_closed(port, Duration::from_secs(20)));

    // nginx.conf marked as changed per environment: a ConfigMap the pod reads it from. An
    // environment's edit of it (a page the original does not have) is what the pod serves.
    let conf = d.join("nginx.conf").to_string_lossy().into_owned();
    let plan_file = app.join("plan.yaml");
    let mut plan = liftkit::plan::load(&plan_file).unwrap();
    plan.apps[0].deploy.per_environment = vec![conf.clone()];
    liftkit::plan::save(&plan, &plan_file).unwrap();
    let out2 = d.join("out2");
    run_ok(liftkit().arg("build").arg(&plan_file).arg("-o").arg(&out2));
    let app2 = app_dir(&out2);
    let mut docs = kubernetes_validated(&app2);
    assert_eq!(kinds(&docs), ["ConfigMap", "Deployment", "Service"]);
    let mount = workload(&docs)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(conf.as_str()))
        .cloned()
        .expect("nginx.conf mounted from the ConfigMap");
    let key = mount["subPath"].as_str().unwrap().to_string();
    let cm = docs.iter_mut().find(|d| d["kind"] == "ConfigMap").unwrap();
    let text = cm["data"][key.as_str()].as_str().unwrap().to_string();
    assert_eq!(
        text,
        std::fs::read_to_string(&conf).unwrap(),
        "the file as the host has it"
    );
    cm["data"][key.as_str()] = text
        .replace(
            "root ",
            "location = /env { return 200 \"staging\\n\"; }\n    root ",
        )
        .into();
    let play = KubePlay::start(&docs, d);
    let env = http_when_ready(port, "/env");
    assert_eq!(
        env,
        Some((200, b"staging\n".to_vec())),
        "the pod reads nginx.conf from the ConfigMap:\n{}",
        play.logs()
    );
    assert_eq!(http_get(port, "/"), original);
}
