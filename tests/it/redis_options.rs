//! redis started with options only (`redis-server --port P --dir D --daemonize yes`, no
//! configuration file): the lift takes the settings the running server reports, not the
//! package's /etc/redis/redis.conf it never read; and where a value is only the analyzer's
//! default, the plan, the report and the wizard's review say it was guessed.

use crate::common;

use common::*;
use liftkit::plan::Fit;
use std::time::Duration;

#[test]
fn redis_started_with_options_only_is_lifted_with_its_own_settings() {
    let dir = public_tempdir();
    let port = free_port();
    let data = dir.path().join("data");
    let daemon = start_redis_with_options(dir.path(), port);
    let pid = daemon.pid().to_string();
    assert!(redis(port, &["SET", "liftkit:options", "kept-in-dir"]).starts_with("+OK"));
    assert!(redis(port, &["SAVE"]).starts_with("+OK"));

    let out = dir.path().join("out");
    run_ok(liftkit().args(["lift", "--pid", &pid, "-o"]).arg(&out));
    let plan = liftkit::plan::load(&out.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    let entry = app.image.entrypoint.join(" ");
    assert!(
        !entry.contains("/etc/redis"),
        "the server read no configuration file: {entry}"
    );
    for wanted in [
        format!("--port {port}"),
        format!("--dir {}", data.display()),
        "--bind 127.0.0.1".to_string(),
        "--dbfilename dump.rdb".to_string(),
    ] {
        assert!(entry.contains(&wanted), "{wanted:?} in {entry}");
    }
    assert!(
        app.volumes
            .iter()
            .any(|v| v.path == data.display().to_string()),
        "the data directory the server uses is the volume: {:?}",
        app.volumes
    );
    assert!(
        !app.findings
            .iter()
            .any(|f| f.message.starts_with("guessed ")),
        "nothing guessed: {:?}",
        app.findings
    );
    assert_eq!(app.fit, Fit::Good, "{:?}", app.fit_reasons);

    let app_dir = app_dir(&out);
    let container = format!("liftkit-test-redis-options-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);
    daemon.stop();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted_answering(&app_dir, &container, port);
    assert!(
        redis(port, &["GET", "liftkit:options"]).contains("kept-in-dir"),
        "the data in --dir is served:\n{}",
        container_logs(&container)
    );

    // The same host recorded without the server's answers (a password, a renamed CONFIG):
    // the configuration file is now the analyzer's default, and that is said everywhere.
    let mut snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("snapshot.json")).unwrap()).unwrap();
    snap["facts"] = serde_json::json!([]);
    let quiet = dir.path().join("no-answers.json");
    std::fs::write(&quiet, serde_json::to_string(&snap).unwrap()).unwrap();
    let plan2 = dir.path().join("plan2.yaml");
    let analyzed = run_ok(
        liftkit()
            .arg("analyze")
            .arg(&quiet)
            .args(["--pid", &pid, "-o"])
            .arg(&plan2),
    );
    let stderr = String::from_utf8_lossy(&analyzed.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with("warning: redis")
            && l.contains(": analyzer redis: guessed conf = /etc/redis/redis.conf")),
        "the guess is said at the end of the run, naming its app:\n{stderr}"
    );
    let plan2 = liftkit::plan::load(&plan2).unwrap();
    let app2 = &plan2.apps[0];
    let guess = app2
        .findings
        .iter()
        .find(|f| {
            f.message.starts_with("guessed ") && f.message.contains("conf = /etc/redis/redis.conf")
        })
        .unwrap_or_else(|| panic!("a guessed finding for conf: {:?}", app2.findings));
    assert!(
        guess.message.contains("the analyzer's default"),
        "{}",
        guess.message
    );
    assert_eq!(app2.fit, Fit::Partial, "a guess lowers the fit");
    assert!(
        app2.fit_reasons
            .iter()
            .any(|r| r.contains("guessed") && r.contains("conf")),
        "{:?}",
        app2.fit_reasons
    );
    let review = liftkit::wizard::review::summary(app2);
    assert!(
        review.contains("guessed    conf = /etc/redis/redis.conf"),
        "the wizard's review shows the guess:\n{review}"
    );
    let out2 = dir.path().join("out2");
    let built = liftkit()
        .arg("build")
        .arg(dir.path().join("plan2.yaml"))
        .arg("-o")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(built.status.code().is_some_and(|c| c < 2), "{built:?}");
    let md = std::fs::read_to_string(app_dir_named(&out2, &app2.name).join("report.md")).unwrap();
    let guessed = md
        .split("### Guessed")
        .nth(1)
        .and_then(|s| s.split("###").next())
        .unwrap_or_else(|| panic!("a Guessed section:\n{md}"));
    assert!(
        guessed.contains("guessed conf = /etc/redis/redis.conf"),
        "the report lists the guess under Guessed:\n{guessed}"
    );
    assert!(md.contains("partial"), "the report shows the lowered fit");
}

fn app_dir_named(out: &std::path::Path, name: &str) -> std::path::PathBuf {
    out.join(name)
}
