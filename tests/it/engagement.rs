//! A whole engagement over a snapshot of this machine running four applications: a web nginx
//! and a redis that lift and pass, a second nginx ("shop") whose hand-written acceptance test
//! fails on purpose, and a VPN helper holding /dev/net/tun, a blocker left out of scope.
//! The scope is chosen with --app and its tests written by hand in scope.yaml; the statement of
//! work is printed by Chromium and read back with pdftotext; `run` is killed after the first app
//! and the restart does not redo it; a changed plan is redone and nothing else; `status` and the
//! handover (checked by `sha256sum -c`, made twice byte for byte) show exactly that; the scope
//! file replays onto a second workspace; bad input is refused naming where.

use crate::browser;
use crate::common;

use common::*;
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A VPN helper: serves a status page and holds the tun device open, which no container gives.
fn start_vpn_helper(dir: &Path, port: u16) -> Daemon {
    let device = ["/dev/net/tun", "/dev/full"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .expect("a character device to hold");
    let pid_file = dir.join("vpn.pid");
    // Daemonized the way old servers' helpers are: forked, its own session, the parent gone.
    let script = format!(
        "import os, http.server\nif os.fork(): os._exit(0)\nos.setsid()\n\
         fd = os.open({device:?}, os.O_RDWR)\n\
         open({pid:?}, 'w').write(str(os.getpid()))\n\
         http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).serve_forever()\n",
        pid = pid_file.display().to_string()
    );
    let started = daemon_command("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("python3");
    assert!(started.success());
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "the VPN helper did not start"
    );
    Daemon { pid_file }
}

/// The snapshot as a server running only these processes (and their children) would give it.
fn keep_only(snap: &mut Value, pids: &BTreeSet<i64>) {
    let procs = snap["processes"].as_array_mut().unwrap();
    procs.retain(|p| {
        pids.contains(&p["pid"].as_i64().unwrap()) || pids.contains(&p["ppid"].as_i64().unwrap())
    });
    let kept: BTreeSet<i64> = procs.iter().map(|p| p["pid"].as_i64().unwrap()).collect();
    let holds = |v: &Value| kept.contains(&v.as_i64().unwrap());
    snap["sockets"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["pids"].as_array().unwrap().iter().any(holds));
    for key in ["facts", "connections"] {
        if let Some(list) = snap[key].as_array_mut() {
            list.retain(|f| holds(&f["pid"]));
        }
    }
}

fn engagement(args: &[&str], ws: &Path) -> Command {
    let mut c = liftkit();
    c.arg("engagement")
        .arg(args[0])
        .arg(ws)
        .args(&args[1..])
        .env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Yaml {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_yaml(path: &Path, v: &Yaml) {
    std::fs::write(path, serde_yaml_ng::to_string(v).unwrap()).unwrap();
}

/// Removes every image the engagement built when the test ends, pass or fail.
struct Images(PathBuf);

impl Drop for Images {
    fn drop(&mut self) {
        let Ok(text) = std::fs::read_to_string(&self.0) else {
            return;
        };
        let state: Value = serde_json::from_str(&text).unwrap_or_default();
        for app in state["apps"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            if let Some(image) = app["lifted"]["image"].as_str() {
                let _ = podman().args(["rmi", "-f", image]).output();
            }
        }
    }
}

fn add_test(scope: &mut Yaml, app: &str, test: Yaml) {
    let apps = scope["apps"].as_sequence_mut().unwrap();
    let entry = apps
        .iter_mut()
        .find(|a| a["app"].as_str() == Some(app))
        .unwrap_or_else(|| panic!("{app} in the scope"));
    entry["tests"].as_sequence_mut().unwrap().push(test);
}

fn test_yaml(s: &str) -> Yaml {
    serde_yaml_ng::from_str(s).unwrap()
}

fn stamp(path: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[test]
fn an_engagement_from_snapshot_to_handover() {
    let dir = public_tempdir();
    let d = dir.path();
    let (web_dir, shop_dir, redis_dir, vpn_dir) = (
        d.join("web"),
        d.join("shop"),
        d.join("redis"),
        d.join("vpn"),
    );
    for p in [&web_dir, &shop_dir, &redis_dir, &vpn_dir] {
        std::fs::create_dir_all(p.join("www")).unwrap();
        set_mode(p, 0o755);
        set_mode(&p.join("www"), 0o755);
    }
    let home = b"<h1>ACME web</h1>\n";
    std::fs::write(web_dir.join("www/index.html"), home).unwrap();
    let (web_port, shop_port, redis_port, vpn_port) =
        (free_port(), free_port(), free_port(), free_port());
    let web = start_nginx(&web_dir, web_port);
    let shop = start_nginx(&shop_dir, shop_port);
    let redis = start_redis(&redis_dir, redis_port);
    let vpn = start_vpn_helper(&vpn_dir, vpn_port);

    // A snapshot of this machine, as a server running only these four would give it.
    let full = d.join("full.json");
    run_ok(liftkit().arg("collect").arg("-o").arg(&full));
    let mut snap = json(&full);
    let pids: BTreeSet<i64> = [&web, &shop, &redis, &vpn]
        .iter()
        .map(|x| i64::from(x.pid()))
        .collect();
    keep_only(&mut snap, &pids);
    assert!(
        snap["capacity"]["memory_kib"].as_u64().unwrap() > 0,
        "the snapshot records the machine's memory"
    );
    let snaps = d.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(
        snaps.join("legacy.json"),
        serde_json::to_string_pretty(&snap).unwrap(),
    )
    .unwrap();
    let host = snap["host"]["hostname"].as_str().unwrap().to_string();

    // init: the snapshots and the fleet's fit and effort.
    let ws = d.join("ws");
    let _images = Images(ws.join("state.json"));
    let init = |ws: &Path| {
        run_ok(
            liftkit()
                .args(["engagement", "init"])
                .arg(ws)
                .arg("--snapshots")
                .arg(&snaps)
                .args(["--name", "ACME lift", "--customer", "ACME", "--days", "5"]),
        )
    };
    init(&ws);
    let fleet = json(&ws.join("fleet/fleet.json"));
    let apps = fleet["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 4, "four applications: {fleet:#}");
    let (web_app, shop_app) = (format!("nginx-{web_port}"), format!("nginx-{shop_port}"));
    let vpn_row = apps
        .iter()
        .find(|a| a["fit"] == "poor")
        .expect("a poor fit");
    let vpn_app = vpn_row["app"].as_str().unwrap().to_string();
    assert!(
        vpn_row["blockers"][0]
            .as_str()
            .unwrap()
            .starts_with("uses devices: /dev/"),
        "{vpn_row:#}"
    );
    let again = engagement(&["init", "--snapshots"], &ws)
        .arg(&snaps)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("is an engagement workspace already"));

    // scope: chosen with --app; not at a terminal, nothing chosen is refused.
    let none = engagement(&["scope"], &ws)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    assert!(text(&none).contains("--app HOST/APP"), "{}", text(&none));
    let ambiguous = engagement(&["scope", "--app", "nginx", "--no-pdf"], &ws)
        .output()
        .unwrap();
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(text(&ambiguous).contains("several applications go by it"));
    run_ok(&mut engagement(
        &[
            "scope",
            "--app",
            &web_app,
            "--app",
            &format!("{host}/redis"),
            "--app",
            &shop_app,
            "--no-pdf",
        ],
        &ws,
    ));
    let scope_file = ws.join("scope.yaml");
    let mut scope = yaml(&scope_file);
    let entries = scope["apps"].as_sequence().unwrap().clone();
    let vpn_entry = entries
        .iter()
        .find(|a| a["app"].as_str() == Some(vpn_app.as_str()))
        .unwrap();
    assert_eq!(vpn_entry["in_scope"], Yaml::Bool(false));
    assert!(
        vpn_entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("poor fit: uses devices: /dev/"),
        "the reason it is out: {vpn_entry:?}"
    );
    let in_scope: Vec<String> = entries
        .iter()
        .filter(|a| a["in_scope"] == Yaml::Bool(true))
        .map(|a| a["app"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_scope.len(), 3);
    let redis_tests = entries
        .iter()
        .find(|a| a["app"].as_str() == Some("redis"))
        .unwrap()["tests"]
        .clone();
    assert_eq!(
        redis_tests[0]["from"].as_str(),
        Some("analyzer"),
        "the analyzer's probe is an agreed test: {redis_tests:?}"
    );

    // Acceptance tests written by hand: one of them fails on purpose (the shop has no /health).
    let home_sha = liftkit::verify::sha256_hex(home);
    add_test(
        &mut scope,
        &web_app,
        test_yaml(&format!(
            "{{name: home page, http: GET /, status: 200, body_sha256: {home_sha}}}"
        )),
    );
    add_test(
        &mut scope,
        &shop_app,
        test_yaml("{name: health page, http: GET /health, status: 200}"),
    );
    add_test(
        &mut scope,
        "redis",
        test_yaml(r"{name: redis version, command: [redis-server, --version], expect: 'v=7\.'}"),
    );
    add_test(
        &mut scope,
        "redis",
        test_yaml(&format!(
            "{{name: port open, tcp: true, port: {redis_port}}}"
        )),
    );
    write_yaml(&scope_file, &scope);

    // The statement of work, printed to PDF by Chromium, names every acceptance test.
    let sow = run_ok(&mut engagement(&["sow"], &ws));
    assert!(text(&sow).contains("9 acceptance tests"), "{}", text(&sow));
    let pdf = ws.join("sow.pdf");
    assert!(pdf.is_file(), "sow.pdf printed: {}", text(&sow));
    let printed = run_ok(
        Command::new("pdftotext")
            .args(["-layout"])
            .arg(&pdf)
            .arg("-"),
    );
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    for expected in [
        "Acceptance tests",
        "health page",
        "HTTP GET /health",
        "status 200",
        "run `redis-server --version` in the container",
        "matches /v=7\\./",
        "home page",
        &home_sha[..16],
        "Out of scope",
        "/dev/",
        "Data copied while running",
        "Secrets",
        "Day 1",
        "kick-off",
    ] {
        assert!(
            printed_in_order(&printed, expected),
            "{expected:?} not in the PDF:\n{printed}"
        );
    }
    let dom = browser::dom(&ws.join("sow.html"));
    assert!(
        dom.contains("<td><strong>health page</strong></td>"),
        "{dom}"
    );
    let png = browser::screenshot(&ws.join("sow.html"), 1400, "sow.png");
    browser::assert_rendered_png(&png, 1280, 1400);
    let md = std::fs::read_to_string(ws.join("sow.md")).unwrap();
    assert!(
        md.contains("| health page | consultant | `HTTP GET /health` | status 200 |"),
        "{md}"
    );

    // run, killed after its first app: the state holds that app, whole, and nothing after it.
    let first = in_scope[0].clone();
    let killed = engagement(&["run"], &ws)
        .env("LIFTKIT_ENGAGEMENT_KILL_AFTER", "1")
        .output()
        .unwrap();
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    let state = json(&ws.join("state.json"));
    let done: Vec<&String> = state["apps"].as_object().unwrap().keys().collect();
    assert_eq!(done, vec![&format!("{host}/{first}")], "{state:#}");
    let first_state = &state["apps"][format!("{host}/{first}")];
    assert_eq!(first_state["runs"]["lift"], 1);
    // The scope's order is by name: the first is the web or the shop, as the ports fell.
    let first_passes = first == web_app;
    assert_eq!(first_state["accepted"]["passed"], first_passes, "{state:#}");
    let first_dir = ws.join("out").join(&host).join(&first);
    let before = (
        stamp(&first_dir.join("build.json")),
        stamp(&first_dir.join("image.tar")),
        stamp(&first_dir.join("acceptance.json")),
    );

    // The restart takes up after it: the first app is kept, the others are done.
    let resumed = engagement(&["run"], &ws).output().unwrap();
    let out = text(&resumed);
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "the shop fails its test:\n{out}"
    );
    assert!(
        out.contains(&format!("{host}/{first}\n  lift:   kept")),
        "{out}"
    );
    let kept = if first_passes {
        "  accept: kept: all 3 acceptance tests passed"
    } else {
        "  accept: kept: 1 of 3 acceptance tests failed"
    };
    assert!(out.contains(kept), "{out}");
    let after = (
        stamp(&first_dir.join("build.json")),
        stamp(&first_dir.join("image.tar")),
        stamp(&first_dir.join("acceptance.json")),
    );
    assert_eq!(before, after, "the first app was not redone");
    let state = json(&ws.join("state.json"));
    for app in &in_scope {
        let s = &state["apps"][format!("{host}/{app}")];
        assert_eq!(s["runs"]["lift"], 1, "{app}: lifted once: {state:#}");
        assert_eq!(s["runs"]["accept"], 1, "{app}: accepted once");
        assert_eq!(s["trial"]["ran"], true, "{app}: the pipeline's trial run: {s:#}");
        assert_eq!(s["runs"]["trial"], 1, "{app}: tried once");
    }
    let shop_acc = json(
        &ws.join("out")
            .join(&host)
            .join(&shop_app)
            .join("acceptance.json"),
    );
    let health = shop_acc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "health page")
        .unwrap();
    assert_eq!(health["passed"], false);
    assert_eq!(health["lifted"]["Http"]["status"], 404, "{health:#}");
    assert!(health["detail"]
        .as_str()
        .unwrap()
        .contains("status 404, expected 200"));
    let redis_acc = json(&ws.join("out").join(&host).join("redis/acceptance.json"));
    assert_eq!(redis_acc["passed"], true, "{redis_acc:#}");
    let version = &redis_acc["results"][1]["command"];
    assert_eq!(version["exit"], 0);
    assert!(version["output_head"].as_str().unwrap().contains("v=7."));
    assert!(
        redis_acc["results"][0]["original"].is_object(),
        "the analyzer's probe asked the running original too: {redis_acc:#}"
    );

    // A changed plan is lifted again; nothing else is.
    let redis_plan = ws.join("plans").join(&host).join("redis.yaml");
    let mut plan = yaml(&redis_plan);
    plan["apps"][0]["image"]["env"]
        .as_sequence_mut()
        .unwrap()
        .push(Yaml::String("ENGAGEMENT_NOTE=plan edited".into()));
    write_yaml(&redis_plan, &plan);
    let status = run_json(&ws);
    let redis_row = row(&status, "redis");
    assert_eq!(redis_row["lifted"], "stale", "{redis_row:#}");
    let rerun = engagement(&["run"], &ws).output().unwrap();
    let out = text(&rerun);
    assert!(
        out.contains(&format!("{host}/redis\n  lift:   done")),
        "{out}"
    );
    assert_eq!(out.matches("lift:   kept").count(), 2, "{out}");
    let state = json(&ws.join("state.json"));
    assert_eq!(state["apps"][format!("{host}/redis")]["runs"]["lift"], 2);
    assert_eq!(state["apps"][format!("{host}/{first}")]["runs"]["lift"], 1);

    // status: exactly that.
    run_ok(&mut engagement(
        &["log", "--app", "redis", "--days", "0.75"],
        &ws,
    ));
    run_ok(&mut engagement(
        &["log", "--days", "0.5", "--note", "kick-off"],
        &ws,
    ));
    let status = run_json(&ws);
    let web_row = row(&status, &web_app);
    assert_eq!(
        (
            web_row["lifted"].as_str(),
            web_row["verified"].as_str(),
            web_row["tests"].as_u64()
        ),
        (Some("yes"), Some("yes"), Some(3))
    );
    let shop_row = row(&status, &shop_app);
    assert_eq!(
        (shop_row["lifted"].as_str(), shop_row["verified"].as_str()),
        (Some("yes"), Some("no"))
    );
    assert_eq!(
        (
            shop_row["tests"].as_u64(),
            shop_row["tests_failed"].as_u64()
        ),
        (Some(3), Some(1))
    );
    let redis_row = row(&status, "redis");
    assert_eq!(
        (redis_row["lifted"].as_str(), redis_row["verified"].as_str()),
        (Some("yes"), Some("yes"))
    );
    assert_eq!(redis_row["spent_days"], 0.75);
    assert_eq!(
        redis_row["estimate_days"], 1.0,
        "good fit 0.5 + one volume 0.5"
    );
    let vpn_row = row(&status, &vpn_app);
    assert_eq!(vpn_row["in_scope"], false);
    assert_eq!(status["spent_days"], 1.25);
    let table = text(&run_ok(&mut engagement(&["status"], &ws)));
    assert!(table.contains("no 1/3 failed"), "{table}");
    assert!(
        table.contains("out of scope: poor fit: uses devices: /dev/"),
        "{table}"
    );
    assert!(table.contains("0.75/1 d"), "{table}");

    // The handover: the three lifted apps, their evidence, a summary, checksums of every file.
    let handover = ws.join("handover");
    run_ok(&mut engagement(&["handover"], &ws));
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&handover)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let sums = std::fs::read_to_string(handover.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<&str> = sums.lines().map(|l| &l[66..]).collect();
    let on_disk: BTreeSet<String> = walkdir::WalkDir::new(&handover)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(&handover)
                .unwrap()
                .display()
                .to_string()
        })
        .filter(|p| p != "SHA256SUMS")
        .collect();
    assert_eq!(
        listed,
        on_disk.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "SHA256SUMS lists every file"
    );
    let mut packed: Vec<String> = std::fs::read_dir(handover.join("apps").join(&host))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packed.sort();
    let mut expected = in_scope.clone();
    expected.sort();
    assert_eq!(packed, expected, "the apps in scope, not the one out of it");
    for app in &in_scope {
        for f in [
            "image.tar",
            "run.sh",
            "compose.yaml",
            "report.html",
            "acceptance.json",
        ] {
            let p = handover.join("apps").join(&host).join(app).join(f);
            assert!(p.is_file(), "{}", p.display());
        }
    }
    assert!(
        !on_disk
            .iter()
            .any(|p| p.contains("/secrets/") || p.contains("/volumes/")),
        "no data or secrets in the pack"
    );
    let summary = json(&handover.join("summary.json"));
    assert_eq!(summary["counts"]["lifted"], 3, "{summary:#}");
    assert_eq!(summary["counts"]["accepted"], 2);
    assert_eq!(summary["counts"]["not_accepted"], 1);
    assert_eq!(summary["counts"]["out_of_scope"], 1);
    let remains: Vec<&str> = summary["remains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(remains.len(), 2, "{remains:#?}");
    assert!(remains[0].contains(&shop_app) && remains[0].contains("health page"));
    assert!(remains[1].contains(&vpn_app) && remains[1].contains("out of scope"));
    let redis_summary = summary["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["app"] == "redis")
        .unwrap();
    assert!(
        redis_summary["sizes"]["vm_memory"]
            .as_str()
            .unwrap()
            .ends_with("GB"),
        "{redis_summary:#}"
    );
    assert_ne!(redis_summary["sizes"]["memory"], "not measured");
    assert!(redis_summary["left_out"][0]
        .as_str()
        .unwrap()
        .starts_with("volume "));
    let summary_md = std::fs::read_to_string(handover.join("summary.md")).unwrap();
    assert!(
        summary_md.contains("| health page | consultant | **FAILED** |"),
        "{summary_md}"
    );

    // Made again from the same workspace: the same pack, byte for byte.
    run_ok(&mut engagement(&["handover"], &ws));
    assert_eq!(
        std::fs::read_to_string(handover.join("SHA256SUMS")).unwrap(),
        sums
    );

    // The scope file replays onto another workspace of the same snapshots; bad ones are refused.
    let ws2 = d.join("ws2");
    init(&ws2);
    let no_scope = engagement(&["run"], &ws2).output().unwrap();
    assert_eq!(no_scope.status.code(), Some(2));
    assert!(
        text(&no_scope).contains("no scope yet"),
        "{}",
        text(&no_scope)
    );
    let mut bad = scope.clone();
    add_test(
        &mut bad,
        "redis",
        test_yaml("{name: port, tcp: true, status: 200}"),
    );
    let bad_file = d.join("bad-scope.yaml");
    write_yaml(&bad_file, &bad);
    let refused = engagement(&["scope", "--from"], &ws2)
        .arg(&bad_file)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!(
            "bad-scope.yaml: apps[3] ({host}/redis): test \"port\": status and body_sha256 go with http"
        )),
        "{}",
        text(&refused)
    );
    let mut unknown = scope.clone();
    unknown["apps"][0]["app"] = Yaml::String("nginx-1".into());
    write_yaml(&bad_file, &unknown);
    let refused = engagement(&["scope", "--from"], &ws2)
        .arg(&bad_file)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).contains("no such application in this workspace's fleet"),
        "{}",
        text(&refused)
    );
    run_ok(engagement(&["scope", "--no-pdf", "--from"], &ws2).arg(&scope_file));
    assert_eq!(
        std::fs::read_to_string(ws2.join("scope.yaml")).unwrap(),
        std::fs::read_to_string(&scope_file).unwrap(),
        "the replayed scope is the scope"
    );
    assert_eq!(
        std::fs::read_to_string(ws2.join("sow.md")).unwrap(),
        md,
        "and gives the same statement of work"
    );

    // Or from this machine, collected now.
    let live = d.join("ws-live");
    run_ok(liftkit().args(["engagement", "init"]).arg(&live));
    let meta = std::fs::read_to_string(live.join("engagement.yaml")).unwrap();
    assert!(
        meta.contains(&format!("snapshots_from: live host {host}")),
        "{meta}"
    );
    let taken = live.join("snapshots").join(format!("{host}.json"));
    assert_eq!(
        std::fs::metadata(&taken).unwrap().mode() & 0o777,
        0o600,
        "process environments are the operator's only"
    );
    let live_fleet = json(&live.join("fleet/fleet.json"));
    assert!(
        live_fleet["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app"] == web_app.as_str()),
        "{live_fleet:#}"
    );
    drop((web, shop, redis, vpn));
}

/// The words of `expected`, in order, in the printed text: a table cell wraps where the browser
/// chose (at a space or after a hyphen), and the text extracted interleaves the lines of the
/// cells beside it.
fn printed_in_order(printed: &str, expected: &str) -> bool {
    let mut rest = printed;
    // A line may also break after a hyphen.
    let words = expected
        .split_whitespace()
        .flat_map(|w| w.split_inclusive('-'));
    for word in words {
        match rest.find(word) {
            Some(at) => rest = &rest[at + word.len()..],
            None => return false,
        }
    }
    true
}

fn run_json(ws: &Path) -> Value {
    let o = run_ok(&mut engagement(&["status", "--json"], ws));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn row<'s>(status: &'s Value, app: &str) -> &'s Value {
    status["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == app)
        .unwrap_or_else(|| panic!("{app} in {status:#}"))
}
