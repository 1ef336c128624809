//! Tomcat with a WAR, started as Debian's tomcat10 starts it (catalina.sh, its own CATALINA_BASE,
//! as the `tomcat` user), is lifted from the running JVM: the image holds the Java runtime,
//! CATALINA_HOME's jars and what their manifests name, the instance's conf/ and webapps/, and its
//! JSP page answers the same from the lifted container as from the host.

use crate::common;
use crate::deploy_common::*;

use common::*;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const CATALINA_HOME: &str = "/usr/share/tomcat10";

/// A CATALINA_BASE as an administrator makes one: Debian's default conf/ with the instance's own
/// server.xml, the application as webapps/ROOT.war, empty logs/ temp/ work/, owned by tomcat.
fn make_base(base: &Path, port: u16) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tomcat-app");
    for d in ["conf", "webapps", "logs", "temp", "work"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    for e in std::fs::read_dir(Path::new(CATALINA_HOME).join("etc")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), base.join("conf").join(e.file_name())).unwrap();
    }
    let server = std::fs::read_to_string(sample.join("server.xml")).unwrap();
    std::fs::write(
        base.join("conf/server.xml"),
        server.replace("@PORT@", &port.to_string()),
    )
    .unwrap();
    let war = std::fs::File::create(base.join("webapps/ROOT.war")).unwrap();
    let mut zip = zip::ZipWriter::new(war);
    for name in ["index.jsp", "WEB-INF/web.xml"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(sample.join("ROOT").join(name)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
    run_ok(
        std::process::Command::new("chown")
            .args(["-R", "tomcat:tomcat"])
            .arg(base),
    );
}

/// GET / until the application is deployed: the connector listens before it is, and holds
/// early requests until then.
fn wait_for_page(port: u16, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((200, body)) = try_get(port) {
            return body;
        }
        assert!(Instant::now() < deadline, "Tomcat never served GET /");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn try_get(port: u16) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = String::from_utf8_lossy(&resp[..split])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, resp[split + 4..].to_vec()))
}

#[test]
fn tomcat_with_a_war_is_lifted_from_its_jvm_and_its_page_answers_the_same() {
    assert!(
        Path::new(CATALINA_HOME).join("bin/catalina.sh").exists(),
        "tomcat10 is not installed (.ci/setup installs it)"
    );
    let dir = public_tempdir();
    let base = dir.path().join("base");
    let port = free_port();
    make_base(&base, port);
    let pid_file = base.join("tomcat.pid");
    run_ok(
        daemon_command("/usr/sbin/runuser")
            .args(["-u", "tomcat", "--"])
            .arg(Path::new(CATALINA_HOME).join("bin/catalina.sh"))
            .arg("start")
            .env("CATALINA_HOME", CATALINA_HOME)
            .env("CATALINA_BASE", &base)
            .env("CATALINA_PID", &pid_file)
            .env("JAVA_OPTS", "-Xmx256m -Djava.awt.headless=true")
            .current_dir(&base),
    );
    let tomcat = Daemon { pid_file };
    let host_page = wait_for_page(port, Duration::from_secs(120));
    let text = String::from_utf8_lossy(&host_page).into_owned();
    assert!(
        text.contains("hello from Apache Tomcat/") && text.contains("sum=42"),
        "the JSP page, compiled by Jasper on the host:\n{text}"
    );

    let out = dir.path().join("out");
    let lift = run_ok(
        liftkit()
            .args(["lift", "--pid", &tomcat.pid().to_string(), "-o"])
            .arg(&out),
    );
    eprintln!("{}", String::from_utf8_lossy(&lift.stdout));
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    let app = app_dir(&out);
    assert!(plan.contains("analyzer: tomcat"), "{plan}");
    assert!(plan.contains("user: tomcat"), "runs as the host ran it");
    assert!(
        plan.contains(&format!(
            "Connector HTTP/1.1 on 0.0.0.0 port {port}: listening"
        )),
        "server.xml's connector, checked against the socket"
    );
    assert!(
        plan.contains("path: /usr/share/java/eclipse-jdt-core.jar"),
        "Jasper's compiler, named only by jasper.jar's manifest Class-Path"
    );
    for tmpfs in ["logs", "temp", "work"] {
        assert!(
            plan.contains(&format!(
                "path: {}/{tmpfs}\n    kind: tmpfs",
                base.display()
            )),
            "{tmpfs}/ is scratch:\n{plan}"
        );
    }

    let paths = layer_paths(&app);
    let java_home = "usr/lib/jvm/java-17-openjdk-amd64";
    let has = |p: &str| paths.iter().any(|x| x == p);
    for needed in [
        format!("{java_home}/bin/java"),
        format!("{java_home}/lib/modules"),
        format!("{java_home}/lib/server/libjvm.so"),
        format!("{java_home}/lib/libnet.so"),
        format!("{java_home}/lib/security/cacerts"),
        "usr/bin/java".to_string(),
        "usr/share/tomcat10/bin/bootstrap.jar".to_string(),
        "usr/share/tomcat10/lib/catalina.jar".to_string(),
        "usr/share/java/tomcat10-catalina.jar".to_string(),
        format!("{}/webapps/ROOT.war", base.display())
            .trim_start_matches('/')
            .to_string(),
        format!("{}/conf/server.xml", base.display())
            .trim_start_matches('/')
            .to_string(),
    ] {
        assert!(has(&needed), "{needed} is in the image");
    }
    for unneeded in ["bin/javac", "jmods", "lib/src.zip", "man"] {
        assert!(
            !paths
                .iter()
                .any(|p| p.starts_with(&format!("{java_home}/{unneeded}"))),
            "{unneeded}: the JDK's, not the runtime's"
        );
    }
    let work = format!("{}/work/", base.display());
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with(work.trim_start_matches('/'))),
        "compiled JSPs are not baked"
    );

    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("build.json")).unwrap()).unwrap();
    let _cleanup = Cleanup {
        container: "unused".into(),
        image: build["image"].as_str().unwrap().to_string(),
    };
    eprintln!(
        "tomcat image: {} bytes of content, layer {} bytes compressed",
        build["content_bytes"], build["layer_bytes"]
    );
    let report = verify_same(&app, &["--timeout", "180"]);
    assert_eq!(report["probes"].as_array().unwrap().len(), 2, "{report:#}");
    // The page is generated (server info, a sum, catalina.base) by a JSP compiled inside the
    // container: the same bytes as the host's page mean the same runtime, jars and application.
    let lifted = &report["probes"][0]["lifted"]["Http"];
    assert_eq!(lifted["status"], 200, "{report:#}");
    assert_eq!(
        lifted["body_sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(&host_page)),
        "GET / from the lifted container is the host's page:\n{text}"
    );
    assert_eq!(report["probes"][1]["lifted"]["Http"]["status"], 404);
    let kept = assert_verified_hardened(&app, &report);
    eprintln!("table: tomcat | {kept:?} | same");

    // What a platform team takes: syft reads the packages, the manifests validate, the
    // maintained Dockerfile names every package and every file no package gives.
    let (seen, planned) = syft_sees_the_plan(&app);
    eprintln!("tomcat: syft {seen} / plan {planned} packages");
    assert_eq!(
        kinds(&kubernetes_validated(&app)),
        ["Deployment", "Service"]
    );
    maintained_dockerfile_checked(&app);

    // The original steps aside: the exact Dockerfile's image, then the pod, serve its page.
    tomcat.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(60)));
    let tag = format!("localhost/liftkit-test/tomcat-dockerfile-{port}:1");
    let rebuilt = dockerfile_rebuilt(
        &app,
        &tag,
        &format!("liftkit-test-tomcat-dockerfile-{port}"),
    );
    let page = http_within(port, "/", Duration::from_secs(180));
    assert_eq!(
        page,
        Some((200, host_page.clone())),
        "the rebuilt image serves the host's page"
    );
    drop(rebuilt);
    assert!(wait_for_port_closed(port, Duration::from_secs(30)));
    let played = http_through_kube_play(&app, dir.path(), port, "/", Duration::from_secs(240))
        .unwrap_or_else(|logs| panic!("no answer from the pod:\n{logs}"));
    assert_eq!(played, (200, host_page), "the pod serves the host's page");
}
