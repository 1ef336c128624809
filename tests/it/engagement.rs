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

/// `liftkit engagement VERB WS ARGS…`, run from the workspace's parent with WS relative, as a
/// consultant types it.
fn engagement(args: &[&str], ws: &Path) -> Command {
    let mut c = liftkit();
    c.current_dir(ws.parent().unwrap())
        .arg("engagement")
        .arg(args[0])
        .arg(ws.file_name().unwrap())
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

/// The four applications, running the way a legacy host runs them.
struct Legacy {
    daemons: Vec<Daemon>,
    home: &'static [u8],
    web_port: u16,
    shop_port: u16,
    redis_port: u16,
}

impl Legacy {
    fn start(d: &Path) -> Legacy {
        let dirs = ["web", "shop", "redis", "vpn"].map(|n| d.join(n));
        for p in &dirs {
            std::fs::create_dir_all(p.join("www")).unwrap();
            set_mode(p, 0o755);
            set_mode(&p.join("www"), 0o755);
        }
        let home = b"<h1>ACME web</h1>\n";
        std::fs::write(dirs[0].join("www/index.html"), home).unwrap();
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let daemons = vec![
            start_nginx(&dirs[0], ports[0]),
            start_nginx(&dirs[1], ports[1]),
            start_redis(&dirs[2], ports[2]),
            start_vpn_helper(&dirs[3], ports[3]),
        ];
        Legacy {
            daemons,
            home,
            web_port: ports[0],
            shop_port: ports[1],
            redis_port: ports[2],
        }
    }
}

/// The engagement under test: its directories and the names its apps go by.
struct Case {
    d: PathBuf,
    snaps: PathBuf,
    ws: PathBuf,
    host: String,
    web: String,
    shop: String,
    vpn: String,
    /// In scope, in the scope's order.
    in_scope: Vec<String>,
    scope: Yaml,
    sow_md: String,
}

impl Case {
    /// A snapshot of this machine, as a server running only the four would give it.
    fn snapshot(d: &Path, legacy: &Legacy) -> (PathBuf, String) {
        let full = d.join("full.json");
        run_ok(liftkit().arg("collect").arg("-o").arg(&full));
        let mut snap = json(&full);
        let pids: BTreeSet<i64> = legacy.daemons.iter().map(|x| i64::from(x.pid())).collect();
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
        (
            snaps,
            snap["host"]["hostname"].as_str().unwrap().to_string(),
        )
    }

    fn init_into(&self, ws: &Path) {
        run_ok(
            liftkit()
                .args(["engagement", "init"])
                .arg(ws)
                .arg("--snapshots")
                .arg(&self.snaps)
                .args(["--name", "ACME lift", "--customer", "ACME", "--days", "5"]),
        );
    }

    /// init: the snapshots and the fleet's fit and effort; the device holder is a poor fit.
    fn init(d: &Path, legacy: &Legacy) -> Case {
        let (snaps, host) = Case::snapshot(d, legacy);
        let mut case = Case {
            d: d.to_path_buf(),
            snaps,
            ws: d.join("ws"),
            host,
            web: format!("nginx-{}", legacy.web_port),
            shop: format!("nginx-{}", legacy.shop_port),
            vpn: String::new(),
            in_scope: Vec::new(),
            scope: Yaml::Null,
            sow_md: String::new(),
        };
        case.init_into(&case.ws);
        let fleet = json(&case.ws.join("fleet/fleet.json"));
        let apps = fleet["apps"].as_array().unwrap();
        assert_eq!(apps.len(), 4, "four applications: {fleet:#}");
        let vpn = apps
            .iter()
            .find(|a| a["fit"] == "poor")
            .expect("a poor fit");
        assert!(
            vpn["blockers"][0]
                .as_str()
                .unwrap()
                .starts_with("uses devices: /dev/"),
            "{vpn:#}"
        );
        case.vpn = vpn["app"].as_str().unwrap().to_string();
        let again = engagement(&["init", "--snapshots"], &case.ws)
            .arg(&case.snaps)
            .output()
            .unwrap();
        assert_eq!(again.status.code(), Some(2), "{}", text(&again));
        assert!(text(&again).contains("is an engagement workspace already"));
        case
    }

    fn scope_file(&self) -> PathBuf {
        self.ws.join("scope.yaml")
    }

    fn app_dir(&self, app: &str) -> PathBuf {
        self.ws.join("out").join(&self.host).join(app)
    }

    /// scope: chosen with --app; the blocked app left out with its reason; refusals.
    fn choose(&mut self) {
        let ws = &self.ws;
        let none = engagement(&["scope"], ws)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(none.status.code(), Some(2), "{}", text(&none));
        assert!(text(&none).contains("--app HOST/APP"), "{}", text(&none));
        let ambiguous = engagement(&["scope", "--app", "nginx", "--no-pdf"], ws)
            .output()
            .unwrap();
        assert_eq!(ambiguous.status.code(), Some(2));
        assert!(text(&ambiguous).contains("several applications go by it"));
        let redis = format!("{}/redis", self.host);
        run_ok(&mut engagement(
            &[
                "scope", "--app", &self.web, "--app", &redis, "--app", &self.shop, "--no-pdf",
            ],
            ws,
        ));
        self.scope = yaml(&self.scope_file());
        let entries = self.scope["apps"].as_sequence().unwrap();
        let vpn = entries
            .iter()
            .find(|a| a["app"].as_str() == Some(self.vpn.as_str()))
            .unwrap();
        assert_eq!(vpn["in_scope"], Yaml::Bool(false));
        assert!(
            vpn["reason"]
                .as_str()
                .unwrap()
                .starts_with("poor fit: uses devices: /dev/"),
            "the reason it is out: {vpn:?}"
        );
        self.in_scope = entries
            .iter()
            .filter(|a| a["in_scope"] == Yaml::Bool(true))
            .map(|a| a["app"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(self.in_scope.len(), 3);
        let redis = entries
            .iter()
            .find(|a| a["app"].as_str() == Some("redis"))
            .unwrap();
        assert_eq!(
            redis["tests"][0]["from"].as_str(),
            Some("analyzer"),
            "the analyzer's probe is an agreed test: {redis:?}"
        );
    }

    /// Acceptance tests written by hand: one of them fails on purpose (the shop has no /health).
    fn write_tests(&mut self, legacy: &Legacy) {
        let home_sha = liftkit::verify::sha256_hex(legacy.home);
        let (web, shop) = (self.web.clone(), self.shop.clone());
        let scope = &mut self.scope;
        add_test(
            scope,
            &web,
            test_yaml(&format!(
                "{{name: home page, http: GET /, status: 200, body_sha256: {home_sha}}}"
            )),
        );
        add_test(
            scope,
            &shop,
            test_yaml("{name: health page, http: GET /health, status: 200}"),
        );
        add_test(
            scope,
            "redis",
            test_yaml(
                r"{name: redis version, command: [redis-server, --version], expect: 'v=7\.'}",
            ),
        );
        add_test(
            scope,
            "redis",
            test_yaml(&format!(
                "{{name: port open, tcp: true, port: {}}}",
                legacy.redis_port
            )),
        );
        write_yaml(&self.scope_file(), &self.scope);
    }

    /// The statement of work, printed to PDF by Chromium, names every acceptance test.
    fn statement_of_work(&mut self, legacy: &Legacy) {
        let ws = &self.ws;
        let sow = run_ok(&mut engagement(&["sow"], ws));
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
        let home_sha = liftkit::verify::sha256_hex(legacy.home);
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
        // Printed again, the same bytes: Chromium's print time is not kept (undated), or is
        // SOURCE_DATE_EPOCH's.
        let first = std::fs::read(&pdf).unwrap();
        run_ok(&mut engagement(&["sow"], ws));
        assert!(
            std::fs::read(&pdf).unwrap() == first,
            "sow.pdf printed twice differs"
        );
        run_ok(engagement(&["sow"], ws).env("SOURCE_DATE_EPOCH", "1700000000"));
        let dated = std::fs::read(&pdf).unwrap();
        assert_eq!(dated.len(), first.len());
        assert!(
            dated
                .windows(b"/CreationDate (D:20231114".len())
                .any(|w| w == b"/CreationDate (D:20231114"),
            "dated by SOURCE_DATE_EPOCH"
        );
        let info = run_ok(Command::new("pdfinfo").arg(&pdf));
        assert!(
            String::from_utf8_lossy(&info.stdout).contains("CreationDate"),
            "a PDF reader reads the date"
        );
        let dom = browser::dom(&ws.join("sow.html"));
        assert!(
            dom.contains("<td><strong>health page</strong></td>"),
            "{dom}"
        );
        let png = browser::screenshot(&ws.join("sow.html"), 1400, "sow.png");
        browser::assert_rendered_png(&png, 1280, 1400);
        self.sow_md = std::fs::read_to_string(ws.join("sow.md")).unwrap();
        assert!(
            self.sow_md
                .contains("| health page | consultant | `HTTP GET /health` | status 200 |"),
            "{}",
            self.sow_md
        );
    }

    /// run, killed after its first app; the restart takes up after it and does not redo it.
    fn interrupted_run(&self) {
        let (ws, host) = (&self.ws, &self.host);
        let first = &self.in_scope[0];
        let killed = engagement(&["run"], ws)
            .env("LIFTKIT_ENGAGEMENT_KILL_AFTER", "1")
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
        let state = json(&ws.join("state.json"));
        let done: Vec<&String> = state["apps"].as_object().unwrap().keys().collect();
        assert_eq!(
            done,
            vec![&format!("{host}/{first}")],
            "only the first: {state:#}"
        );
        let first_state = &state["apps"][format!("{host}/{first}")];
        assert_eq!(first_state["runs"]["lift"], 1);
        // The scope's order is by name: the first is the web or the shop, as the ports fell.
        let first_passes = *first == self.web;
        assert_eq!(first_state["accepted"]["passed"], first_passes, "{state:#}");
        let first_dir = self.app_dir(first);
        let stamps =
            || ["build.json", "image.tar", "acceptance.json"].map(|f| stamp(&first_dir.join(f)));
        let before = stamps();

        let resumed = engagement(&["run"], ws).output().unwrap();
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
        assert_eq!(before, stamps(), "the first app was not redone");
        let state = json(&ws.join("state.json"));
        for app in &self.in_scope {
            let s = &state["apps"][format!("{host}/{app}")];
            assert_eq!(s["runs"]["lift"], 1, "{app}: lifted once: {state:#}");
            assert_eq!(s["runs"]["accept"], 1, "{app}: accepted once");
            assert_eq!(
                s["trial"]["ran"], true,
                "{app}: the pipeline's trial run: {s:#}"
            );
            assert_eq!(s["runs"]["trial"], 1, "{app}: tried once");
        }
    }

    /// Each result is kept with its evidence.
    fn evidence(&self) {
        let shop = json(&self.app_dir(&self.shop).join("acceptance.json"));
        let health = shop["results"]
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
        let redis = json(&self.app_dir("redis").join("acceptance.json"));
        assert_eq!(redis["passed"], true, "{redis:#}");
        let version = &redis["results"][1]["command"];
        assert_eq!(version["exit"], 0);
        assert!(version["output_head"].as_str().unwrap().contains("v=7."));
        assert!(
            redis["results"][0]["original"].is_object(),
            "the analyzer's probe asked the running original too: {redis:#}"
        );
    }

    /// A changed plan is lifted again; nothing else is.
    fn changed_plan(&self) {
        let (ws, host) = (&self.ws, &self.host);
        let redis_plan = ws.join("plans").join(host).join("redis.yaml");
        let mut plan = yaml(&redis_plan);
        plan["apps"][0]["image"]["env"]
            .as_sequence_mut()
            .unwrap()
            .push(Yaml::String("ENGAGEMENT_NOTE=plan edited".into()));
        write_yaml(&redis_plan, &plan);
        assert_eq!(row(&run_json(ws), "redis")["lifted"], "stale");
        let out = text(&engagement(&["run"], ws).output().unwrap());
        assert!(
            out.contains(&format!("{host}/redis\n  lift:   done")),
            "{out}"
        );
        assert_eq!(out.matches("lift:   kept").count(), 2, "{out}");
        let state = json(&ws.join("state.json"));
        assert_eq!(state["apps"][format!("{host}/redis")]["runs"]["lift"], 2);
        for app in [&self.web, &self.shop] {
            assert_eq!(state["apps"][format!("{host}/{app}")]["runs"]["lift"], 1);
        }
    }

    /// status: exactly what happened, with the effort booked.
    fn status(&self) {
        let ws = &self.ws;
        run_ok(&mut engagement(
            &["log", "--app", "redis", "--days", "0.75"],
            ws,
        ));
        run_ok(&mut engagement(
            &["log", "--days", "0.5", "--note", "kick-off"],
            ws,
        ));
        let status = run_json(ws);
        let facts = |app: &str| {
            let r = row(&status, app);
            (
                r["lifted"].as_str().unwrap().to_string(),
                r["verified"].as_str().unwrap().to_string(),
                r["tests"].as_u64().unwrap(),
                r["tests_failed"].as_u64().unwrap(),
            )
        };
        let yes = || ("yes".to_string(), "yes".to_string());
        let (l, v, n, f) = facts(&self.web);
        assert_eq!(((l, v), n, f), (yes(), 3, 0));
        let (l, v, n, f) = facts(&self.shop);
        assert_eq!(((l, v), n, f), (("yes".into(), "no".into()), 3, 1));
        let (l, v, n, f) = facts("redis");
        assert_eq!(((l, v), n, f), (yes(), 3, 0));
        let redis = row(&status, "redis");
        assert_eq!(redis["spent_days"], 0.75);
        assert_eq!(redis["estimate_days"], 1.0, "good fit 0.5 + one volume 0.5");
        assert_eq!(row(&status, &self.vpn)["in_scope"], false);
        assert_eq!(status["spent_days"], 1.25);
        let table = text(&run_ok(&mut engagement(&["status"], ws)));
        assert!(table.contains("no 1/3 failed"), "{table}");
        assert!(
            table.contains("out of scope: poor fit: uses devices: /dev/"),
            "{table}"
        );
        assert!(table.contains("0.75/1 d"), "{table}");
    }

    /// The handover: the three lifted apps, their evidence, a summary, checksums of every file;
    /// made again from the same workspace, the same pack byte for byte.
    fn handover(&self) {
        let (ws, host) = (&self.ws, &self.host);
        let handover = ws.join("handover");
        run_ok(&mut engagement(&["handover"], ws));
        let check = Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&handover)
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check));
        let sums = std::fs::read_to_string(handover.join("SHA256SUMS")).unwrap();
        let listed: BTreeSet<String> = sums.lines().map(|l| l[66..].to_string()).collect();
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
        assert_eq!(listed, on_disk, "SHA256SUMS lists every file");
        let mut packed: Vec<String> = std::fs::read_dir(handover.join("apps").join(host))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        packed.sort();
        let mut expected = self.in_scope.clone();
        expected.sort();
        assert_eq!(packed, expected, "the apps in scope, not the one out of it");
        for app in &self.in_scope {
            for f in [
                "image.tar",
                "run.sh",
                "compose.yaml",
                "report.html",
                "acceptance.json",
            ] {
                let p = handover.join("apps").join(host).join(app).join(f);
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
        let c = &summary["counts"];
        assert_eq!(
            [
                &c["lifted"],
                &c["accepted"],
                &c["not_accepted"],
                &c["out_of_scope"]
            ],
            [3, 2, 1, 1],
            "{summary:#}"
        );
        let remains: Vec<&str> = summary["remains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(remains.len(), 2, "{remains:#?}");
        assert!(remains[0].contains(&self.shop) && remains[0].contains("health page"));
        assert!(remains[1].contains(&self.vpn) && remains[1].contains("out of scope"));
        let redis = summary["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["app"] == "redis")
            .unwrap();
        assert!(
            redis["sizes"]["vm_memory"]
                .as_str()
                .unwrap()
                .ends_with("GB"),
            "{redis:#}"
        );
        assert_ne!(redis["sizes"]["memory"], "not measured");
        assert!(redis["left_out"][0]
            .as_str()
            .unwrap()
            .starts_with("volume "));
        let md = std::fs::read_to_string(handover.join("summary.md")).unwrap();
        assert!(
            md.contains("| health page | consultant | **FAILED** |"),
            "{md}"
        );

        run_ok(&mut engagement(&["handover"], ws));
        assert_eq!(
            std::fs::read_to_string(handover.join("SHA256SUMS")).unwrap(),
            sums
        );
    }

    /// The scope file replays onto another workspace of the same snapshots; bad ones are
    /// refused naming the entry.
    fn replay(&self) {
        let ws2 = self.d.join("ws2");
        self.init_into(&ws2);
        let no_scope = engagement(&["run"], &ws2).output().unwrap();
        assert_eq!(no_scope.status.code(), Some(2));
        assert!(
            text(&no_scope).contains("no scope yet"),
            "{}",
            text(&no_scope)
        );
        let refused = |scope: &Yaml| {
            let file = self.d.join("bad-scope.yaml");
            write_yaml(&file, scope);
            let o = engagement(&["scope", "--from"], &ws2)
                .arg(&file)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            text(&o)
        };
        let mut bad = self.scope.clone();
        add_test(
            &mut bad,
            "redis",
            test_yaml("{name: port, tcp: true, status: 200}"),
        );
        let why = refused(&bad);
        assert!(
            why.contains(&format!(
                "bad-scope.yaml: apps[3] ({}/redis): test \"port\": status and body_sha256 go with http",
                self.host
            )),
            "{why}"
        );
        let mut unknown = self.scope.clone();
        unknown["apps"][0]["app"] = Yaml::String("nginx-1".into());
        let why = refused(&unknown);
        assert!(
            why.contains("no such application in this workspace's fleet"),
            "{why}"
        );
        run_ok(engagement(&["scope", "--no-pdf", "--from"], &ws2).arg(self.scope_file()));
        assert_eq!(
            std::fs::read_to_string(ws2.join("scope.yaml")).unwrap(),
            std::fs::read_to_string(self.scope_file()).unwrap(),
            "the replayed scope is the scope"
        );
        assert_eq!(
            std::fs::read_to_string(ws2.join("sow.md")).unwrap(),
            self.sow_md,
            "and gives the same statement of work"
        );
    }

    /// Or a workspace from this machine, collected now.
    fn live(&self) {
        let live = self.d.join("ws-live");
        run_ok(liftkit().args(["engagement", "init"]).arg(&live));
        let meta = std::fs::read_to_string(live.join("engagement.yaml")).unwrap();
        assert!(
            meta.contains(&format!("snapshots_from: live host {}", self.host)),
            "{meta}"
        );
        let taken = live.join("snapshots").join(format!("{}.json", self.host));
        assert_eq!(
            std::fs::metadata(&taken).unwrap().mode() & 0o777,
            0o600,
            "process environments are the operator's only"
        );
        let fleet = json(&live.join("fleet/fleet.json"));
        assert!(
            fleet["apps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["app"] == self.web.as_str()),
            "{fleet:#}"
        );
    }
}

#[test]
fn an_engagement_from_snapshot_to_handover() {
    let dir = public_tempdir();
    let legacy = Legacy::start(dir.path());
    let mut case = Case::init(dir.path(), &legacy);
    let _images = Images(case.ws.join("state.json"));
    case.choose();
    case.write_tests(&legacy);
    case.statement_of_work(&legacy);
    case.interrupted_run();
    case.evidence();
    case.changed_plan();
    case.status();
    case.handover();
    case.replay();
    case.live();
    drop(legacy);
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

/// A daemon no analyzer knows (a perl line server) gets the trial's probe as its acceptance
/// test, marked `trial` in the scope and the statement of work, and passes it after the run.
#[test]
fn an_app_no_analyzer_knows_is_accepted_by_its_trials_probe() {
    let dir = public_tempdir();
    let d = dir.path();
    let port = free_port();
    let script = d.join("lined.pl");
    std::fs::write(
        &script,
        "#!/usr/bin/perl\nuse strict;\nuse IO::Socket::INET;\nmy $port = shift;\n\
         my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 5,\n  \
         ReuseAddr => 1) or die \"listen: $!\\n\";\n\
         while (my $c = $s->accept) { print $c \"line server\\n\"; close $c; }\n",
    )
    .unwrap();
    let daemon = Foreground::start(
        daemon_command("/usr/bin/perl")
            .arg(&script)
            .arg(port.to_string()),
    );
    let pid = i64::from(daemon.pid());
    assert!(wait_for_port(port, Duration::from_secs(10)));

    let full = d.join("full.json");
    run_ok(liftkit().arg("collect").arg("-o").arg(&full));
    let mut snap = json(&full);
    keep_only(&mut snap, &BTreeSet::from([pid]));
    let snaps = d.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(snaps.join("perl-host.json"), snap.to_string()).unwrap();
    let ws = d.join("ws");
    run_ok(
        liftkit()
            .args(["engagement", "init"])
            .arg(&ws)
            .arg("--snapshots")
            .arg(&snaps)
            .args(["--name", "perl lift", "--customer", "ACME", "--days", "1"]),
    );
    let scoped = run_ok(&mut engagement(
        &["scope", "--app", "perl", "--no-pdf"],
        &ws,
    ));
    assert!(
        text(&scoped).contains("1 acceptance tests"),
        "{}",
        text(&scoped)
    );
    let scope = yaml(&ws.join("scope.yaml"));
    let tests = &scope["apps"][0]["tests"];
    assert_eq!(tests[0]["from"].as_str(), Some("trial"), "{scope:?}");
    assert_eq!(tests[0]["tcp"].as_bool(), Some(true), "{scope:?}");
    let sow = std::fs::read_to_string(ws.join("sow.md")).unwrap();
    assert!(
        sow.contains("| trial |"),
        "the statement of work says where it came from:\n{sow}"
    );

    run_ok(&mut engagement(&["run"], &ws));
    let status = run_json(&ws);
    let r = row(&status, "perl");
    assert_eq!(
        (
            r["lifted"].as_str(),
            r["verified"].as_str(),
            r["tests"].as_u64(),
            r["tests_failed"].as_u64()
        ),
        (Some("yes"), Some("yes"), Some(1), Some(0)),
        "{status:#}"
    );
}
