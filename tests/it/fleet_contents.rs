//! The fleet report over hosts of which some were analyzed without their files: what is unknown
//! for them (a version no package list names) is no difference, and they are marked as such in
//! every table; what the CSV holds (warnings) the HTML shows too.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::process::Child;
use std::time::Duration;

/// A program no analyzer knows, listening: its version comes only from the package that owns
/// its executable, which needs the host's dpkg lists.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_http_server(dir: &std::path::Path, port: u16) -> Spawned {
    let child = daemon_command("/usr/bin/python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "http.server did not start"
    );
    Spawned(child)
}

#[test]
fn hosts_without_files_invent_no_differences_and_are_marked() {
    let dir = public_tempdir();
    let d = dir.path();
    let (nginx_port, http_port) = (free_port(), free_port());
    let nginx = start_nginx(&d.join("nginx"), nginx_port);
    let http = start_http_server(d, http_port);
    let pids = [i64::from(nginx.pid()), i64::from(http.0.id())];

    let snap_file = d.join("collected.json");
    run_ok(liftkit().args(["collect", "-o"]).arg(&snap_file));
    let mut base: Value =
        serde_json::from_str(&std::fs::read_to_string(&snap_file).unwrap()).unwrap();
    base["processes"].as_array_mut().unwrap().retain(|p| {
        pids.contains(&p["pid"].as_i64().unwrap()) || pids.contains(&p["ppid"].as_i64().unwrap())
    });
    let kept: Vec<i64> = base["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    base["sockets"].as_array_mut().unwrap().retain(|s| {
        s["pids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| kept.contains(&p.as_i64().unwrap()))
    });
    let snaps = d.join("snaps");
    std::fs::create_dir_all(&snaps).unwrap();
    // This machine (files read live) and a copy of it known by its inventory alone.
    std::fs::write(
        snaps.join("here.json"),
        serde_json::to_string(&base).unwrap(),
    )
    .unwrap();
    let mut remote = base.clone();
    remote["host"]["hostname"] = json!("far-away-01");
    std::fs::write(
        snaps.join("far.json"),
        serde_json::to_string(&remote).unwrap(),
    )
    .unwrap();

    let report = d.join("report");
    run_ok(liftkit().arg("batch").arg(&snaps).arg("-o").arg(&report));
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("fleet.json")).unwrap()).unwrap();
    let apps = fleet["apps"].as_array().unwrap();
    let far: Vec<&Value> = apps
        .iter()
        .filter(|a| a["hostname"] == "far-away-01")
        .collect();
    let here: Vec<&Value> = apps
        .iter()
        .filter(|a| a["hostname"] != "far-away-01")
        .collect();
    assert_eq!(far.len(), 2, "{apps:#?}");
    assert!(far.iter().all(|a| a["contents"] == "none"), "{far:#?}");
    assert!(here.iter().all(|a| a["contents"] == "live"), "{here:#?}");
    let python_here = here.iter().find(|a| a["analyzer"] == "generic").unwrap();
    assert!(
        !python_here["version"].as_str().unwrap().is_empty(),
        "the live host knows the interpreter's package: {python_here}"
    );
    let python_far = far.iter().find(|a| a["analyzer"] == "generic").unwrap();
    assert_eq!(python_far["version"], "", "no dpkg lists without files");

    let diffs = fleet["differences"].as_array().unwrap();
    assert!(
        !diffs.iter().any(|x| x["kind"] == "version"),
        "an unknown version is no difference: {diffs:#?}"
    );
    assert!(
        apps.iter()
            .all(|a| a["differs"].as_array().unwrap().is_empty()),
        "the two hosts are the same: {apps:#?}"
    );
    let nginx_effort: Vec<f64> = apps
        .iter()
        .filter(|a| a["analyzer"] == "nginx")
        .map(|a| a["effort_days"].as_f64().unwrap())
        .collect();
    assert_eq!(
        nginx_effort[0], nginx_effort[1],
        "missing files do not change the estimate: {apps:#?}"
    );
    assert_eq!(fleet["summary"]["inventory_only"], 1);

    let html = std::fs::read_to_string(report.join("fleet.html")).unwrap();
    let text = unescape_html(&html);
    let apps_table = html
        .split("<h2><span class=\"num\">3</span>")
        .nth(1)
        .and_then(|s| s.split("<h2>").next())
        .unwrap();
    let far_rows = apps_table
        .lines()
        .filter(|l| l.contains("<td>far-away-01"))
        .collect::<Vec<_>>();
    assert_eq!(far_rows.len(), 2, "{apps_table}");
    assert!(
        far_rows.iter().all(|r| r.contains("inventory only")),
        "rows of a host without files are marked: {far_rows:#?}"
    );
    for a in apps {
        for w in a["warning_messages"].as_array().unwrap() {
            let w = w.as_str().unwrap();
            assert!(
                text.contains(w),
                "a warning the CSV counts is in the HTML: {w}"
            );
        }
        assert_eq!(
            a["warnings"].as_u64().unwrap() as usize,
            a["warning_messages"].as_array().unwrap().len()
        );
    }
    assert!(
        apps.iter().any(|a| a["warnings"].as_u64().unwrap() > 0),
        "the fixture has warnings to show: {apps:#?}"
    );
}

/// The text an HTML fragment shows: entities decoded (named and numeric).
fn unescape_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e < 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
