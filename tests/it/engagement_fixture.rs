//! An engagement over recorded hosts (the nginx and redis fixtures, each snapshot with its files
//! as a bundle beside it): the bundles are found from the workspace's copies, the scope is chosen
//! at a real terminal (tmux) with dialoguer, a scope over the engagement's days is flagged in the
//! statement of work, and status and handover say what is not done before anything ran.

use crate::common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A terminal of its own running one command: a tmux server on a private socket.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn run(command: &str) -> Terminal {
        let socket = format!("liftkit-engagement-{}", std::process::id());
        run_ok(
            Command::new("tmux")
                .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
                .args(["-x", "160", "-y", "40", "-s", "e"])
                .arg(format!("{command}; echo SCOPE-EXIT=$?; sleep 60"))
                .env("TERM", "xterm-256color")
                .env_remove("NO_COLOR"),
        );
        Terminal { socket }
    }

    fn keys(&self, keys: &[&str]) {
        run_ok(
            Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", "e"])
                .args(keys),
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    fn history(&self) -> String {
        let out = run_ok(Command::new("tmux").args([
            "-L",
            &self.socket,
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-500",
            "-t",
            "e",
        ]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let h = self.history();
            if h.contains(what) {
                return h;
            }
            assert!(Instant::now() < deadline, "waited for {what:?}:\n{h}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// A fixture's snapshot with its recorded root as the bundle beside it (a link, as a consultant
/// copying the collected directory would have it).
fn bundled(fixture: &str, to: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(fixture);
    let mut snap: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("snapshot.json")).unwrap()).unwrap();
    let host = snap["host"]["hostname"].as_str().unwrap().to_string();
    snap["bundle"] = Value::String(format!("{host}.bundle"));
    std::fs::write(
        to.join(format!("{host}.json")),
        serde_json::to_string_pretty(&snap).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(src.join("root"), to.join(format!("{host}.bundle"))).unwrap();
    host
}

fn stdout_json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_scope_chosen_at_the_terminal_over_recorded_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let collected = d.join("collected");
    std::fs::create_dir_all(&collected).unwrap();
    let web = bundled("nginx", &collected);
    let cache = bundled("redis", &collected);
    let ws = d.join("ws");
    run_ok(
        liftkit()
            .args(["engagement", "init"])
            .arg(&ws)
            .arg("--snapshots")
            .arg(&collected)
            .args(["--days", "1"]),
    );
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("fleet/fleet.json")).unwrap())
            .unwrap();
    let contents: Vec<&str> = fleet["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["contents"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["bundle", "bundle"],
        "the bundles are found from the workspace's copies"
    );

    // At the terminal: every app without blockers is ticked; untick the first (the cache).
    let term = Terminal::run(&format!(
        "{} engagement scope {} --no-pdf",
        env!("CARGO_BIN_EXE_liftkit"),
        ws.display()
    ));
    let screen = term.wait_for("Applications in scope");
    assert!(screen.contains(&format!("{cache}/redis")), "{screen}");
    assert!(screen.contains(&format!("{web}/nginx")), "{screen}");
    term.keys(&["Space"]);
    term.keys(&["Enter"]);
    let done = term.wait_for("SCOPE-EXIT=");
    assert!(done.contains("SCOPE-EXIT=0"), "{done}");
    assert!(
        done.contains("warning: the estimate exceeds the engagement's 1 days by 0.5"),
        "{done}"
    );
    let scope = std::fs::read_to_string(ws.join("scope.yaml")).unwrap();
    let scope: serde_yaml_ng::Value = serde_yaml_ng::from_str(&scope).unwrap();
    let in_scope: Vec<(&str, bool)> = scope["apps"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["app"].as_str().unwrap(), a["in_scope"].as_bool().unwrap()))
        .collect();
    assert_eq!(in_scope, [("redis", false), ("nginx", true)]);
    assert_eq!(
        scope["apps"][0]["reason"].as_str(),
        Some("not chosen for this engagement")
    );
    let sow = std::fs::read_to_string(ws.join("sow.md")).unwrap();
    assert!(
        sow.contains("**The estimate exceeds the engagement by 0.5 days"),
        "{sow}"
    );
    assert!(
        sow.contains("| 2 (over) |"),
        "day 2 is past the one day:\n{sow}"
    );

    // Before anything ran: not lifted, not verified, and the handover says what remains.
    let status = run_ok(liftkit().args(["engagement", "status", "--json"]).arg(&ws));
    let rows = stdout_json(&status)["rows"].clone();
    assert_eq!(rows[0]["app"], "nginx");
    assert_eq!(rows[0]["lifted"], "no");
    assert_eq!(rows[0]["verified"], "not run");
    assert_eq!(rows[1]["in_scope"], false);
    run_ok(liftkit().args(["engagement", "handover"]).arg(&ws));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("handover/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["counts"]["lifted"], 0);
    assert_eq!(
        summary["remains"][0].as_str().unwrap(),
        format!("{web}/nginx: not lifted")
    );
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(ws.join("handover"))
        .output()
        .unwrap();
    assert!(check.status.success());

    // Effort booked against an app that is not in the workspace is refused, naming it.
    let bad = liftkit()
        .args(["engagement", "log"])
        .arg(&ws)
        .args(["--app", "postgres", "--days", "1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("--app postgres: not an application of the scope"));
}
