//! `liftkit batch` over a fleet: real snapshots of this machine (a real nginx and redis running)
//! and copies varied the way servers differ (hostnames, package versions, an app dropped, one
//! added that holds a device, a config file edited in a bundle), plus a corrupt file, a JSON
//! file that is no snapshot and one of a future schema. The CSV and JSON are checked row by row,
//! the differences found are the ones planted, and fleet.html is rendered in Chromium.

use crate::browser;
use crate::common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const OLD_NGINX: &str = "1.18.0-6.1+deb11u3";

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// The snapshot as a server running only these applications would give it.
fn keep_only(snap: &mut Value, pids: &BTreeSet<i64>) {
    let procs = snap["processes"].as_array_mut().unwrap();
    procs.retain(|p| {
        let pid = p["pid"].as_i64().unwrap();
        pids.contains(&pid) || pids.contains(&p["ppid"].as_i64().unwrap())
    });
    let kept: BTreeSet<i64> = procs.iter().map(|p| p["pid"].as_i64().unwrap()).collect();
    snap["sockets"].as_array_mut().unwrap().retain(|s| {
        s["pids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| kept.contains(&p.as_i64().unwrap()))
    });
    snap["facts"]
        .as_array_mut()
        .unwrap()
        .retain(|f| kept.contains(&f["pid"].as_i64().unwrap()));
}

fn drop_pid(snap: &mut Value, pid: i64) {
    snap["processes"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["pid"].as_i64() != Some(pid));
    snap["sockets"].as_array_mut().unwrap().retain(|s| {
        !s["pids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_i64() == Some(pid))
    });
}

/// A card-reader daemon: listens, and holds a serial device open.
fn add_device_app(snap: &mut Value, template_pid: i64) {
    let mut p = snap["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"].as_i64() == Some(template_pid))
        .unwrap()
        .clone();
    p["pid"] = json!(990001);
    p["ppid"] = json!(1);
    p["comm"] = json!("readerd");
    p["exe"] = json!("/opt/cardreader/bin/readerd");
    p["cmdline"] = json!(["/opt/cardreader/bin/readerd", "--port", "/dev/ttyS0"]);
    p["fds"] =
        json!([{ "fd": 3, "target": "socket:[990002]" }, { "fd": 5, "target": "/dev/ttyS0" }]);
    p["maps"] = json!([]);
    p["unit"] = json!("readerd.service");
    snap["processes"].as_array_mut().unwrap().push(p);
    snap["sockets"].as_array_mut().unwrap().push(json!({
        "proto": "tcp", "address": "0.0.0.0", "port": 7777, "inode": 990002, "uid": 0, "pids": [990001]
    }));
}

fn set_nginx_version(snap: &mut Value, version: &str) {
    for p in snap["packages"].as_array_mut().unwrap() {
        if p["name"].as_str().unwrap().starts_with("nginx") {
            p["version"] = json!(version);
        }
    }
    snap["host"]["os_release"]["PRETTY_NAME"] = json!("Debian GNU/Linux 11 (bullseye)");
}

fn copy_tree(from: &Path, to: &Path) {
    run_ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            let cells = split_csv(l);
            assert_eq!(cells.len(), header.len(), "row {l:?}");
            header.iter().cloned().zip(cells).collect()
        })
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut cells, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    cells
}

#[test]
fn batch_reports_a_varied_fleet_of_snapshots() {
    let dir = public_tempdir();
    let d = dir.path();
    let (nginx_port, redis_port) = (free_port(), free_port());
    let nginx = start_nginx(&d.join("nginx"), nginx_port);
    let redis = start_redis(&d.join("redis"), redis_port);
    let (nginx_pid, redis_pid) = (i64::from(nginx.pid()), i64::from(redis.pid()));

    let collected = d.join("collected");
    std::fs::create_dir_all(&collected).unwrap();
    run_ok(
        liftkit()
            .args([
                "collect",
                "--bundle",
                "--pid",
                &nginx_pid.to_string(),
                "--pid",
                &redis_pid.to_string(),
                "-o",
            ])
            .arg(collected.join("base.json")),
    );
    let mut base: Value =
        serde_json::from_str(&std::fs::read_to_string(collected.join("base.json")).unwrap())
            .unwrap();
    keep_only(&mut base, &[nginx_pid, redis_pid].into());
    let this_host = base["host"]["hostname"].as_str().unwrap().to_string();
    let conf_path = d.join("nginx/nginx.conf").display().to_string();

    let snaps = d.join("snaps");
    std::fs::create_dir_all(&snaps).unwrap();
    // This machine, files read live.
    let mut live = base.clone();
    live.as_object_mut().unwrap().remove("bundle");
    write_json(&snaps.join("this-host.json"), &live);
    // Two servers that shipped their files; one has its nginx.conf edited.
    for (i, edited) in [(1, false), (2, true)] {
        let name = format!("bundled-{i:02}");
        let mut s = base.clone();
        s["host"]["hostname"] = json!(format!("web-{name}"));
        s["bundle"] = json!(format!("{name}.bundle"));
        write_json(&snaps.join(format!("{name}.json")), &s);
        copy_tree(
            &collected.join("base.bundle"),
            &snaps.join(format!("{name}.bundle")),
        );
        if edited {
            let conf = snaps
                .join(format!("{name}.bundle"))
                .join(conf_path.trim_start_matches('/'));
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str("# tuned by hand on this server\n");
            std::fs::write(&conf, text).unwrap();
        }
    }
    // Fifteen more servers known by their snapshots only.
    let mut old_nginx = BTreeSet::new();
    let mut without_redis = BTreeSet::new();
    for i in 3..=17 {
        let host = format!("web-{i:02}");
        let mut s = base.clone();
        s.as_object_mut().unwrap().remove("bundle");
        s["host"]["hostname"] = json!(host);
        if i % 3 == 0 {
            set_nginx_version(&mut s, OLD_NGINX);
            old_nginx.insert(host.clone());
        }
        if i % 4 == 0 {
            drop_pid(&mut s, redis_pid);
            without_redis.insert(host.clone());
        }
        if i == 5 {
            add_device_app(&mut s, nginx_pid);
        }
        write_json(&snaps.join(format!("{host}.json")), &s);
    }
    // What else turns up in a directory of snapshots.
    let text = serde_json::to_string(&base).unwrap();
    std::fs::write(snaps.join("corrupt.json"), &text[..text.len() / 2]).unwrap();
    write_json(
        &snaps.join("not-a-snapshot.json"),
        &json!({ "name": "inventory", "hosts": 3 }),
    );
    let mut future = base.clone();
    future["schema"] = json!(2);
    future["host"]["tpm"] = json!("2.0");
    write_json(&snaps.join("future.json"), &future);
    std::fs::write(snaps.join("README.txt"), "not a snapshot, and not *.json\n").unwrap();

    let report = d.join("report");
    let started = Instant::now();
    let out = liftkit()
        .arg("batch")
        .arg(&snaps)
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "batch over 21 snapshots took {:.2} s: {}",
        elapsed.as_secs_f64(),
        stderr.lines().next().unwrap_or("")
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "unreadable snapshots make exit code 1:\n{stderr}"
    );
    assert!(stderr.contains("corrupt.json: unreadable"), "{stderr}");

    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("fleet.json")).unwrap()).unwrap();
    let summary = &fleet["summary"];
    assert_eq!(summary["snapshots"], 21);
    assert_eq!(summary["hosts"], 18);
    assert_eq!(summary["unreadable"], 3);
    let reasons: BTreeMap<String, String> = fleet["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["file"].as_str().unwrap().into(),
                u["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        reasons["corrupt.json"].starts_with("not valid JSON"),
        "{reasons:?}"
    );
    assert!(
        reasons["not-a-snapshot.json"].starts_with("not a liftkit snapshot"),
        "{reasons:?}"
    );
    assert!(
        reasons["future.json"].contains("schema 2 is not supported"),
        "{reasons:?}"
    );

    let contents: BTreeMap<String, String> = fleet["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hostname"].as_str().unwrap().into(),
                h["contents"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(contents[&this_host], "live");
    assert_eq!(contents["web-bundled-01"], "bundle");
    assert_eq!(contents["web-07"], "none");

    // Every host and application is a CSV row; unreadable snapshots too.
    let rows = csv_rows(&std::fs::read_to_string(report.join("fleet.csv")).unwrap());
    let apps_on = |host: &str| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| r["hostname"] == host)
            .map(|r| r["app"].clone())
            .collect()
    };
    let both: BTreeSet<String> = ["nginx".to_string(), "redis".to_string()].into();
    assert_eq!(apps_on(&this_host), both);
    assert_eq!(apps_on("web-bundled-02"), both);
    assert_eq!(
        apps_on("web-08"),
        ["nginx".to_string()].into(),
        "redis was dropped on web-08"
    );
    assert_eq!(
        apps_on("web-05").len(),
        3,
        "web-05 runs the card reader too"
    );
    let expected_rows = 18 * 2 - without_redis.len() + 1 + 3;
    assert_eq!(rows.len(), expected_rows);
    let reader = rows
        .iter()
        .find(|r| r["hostname"] == "web-05" && r["app"] != "nginx" && r["app"] != "redis")
        .unwrap();
    assert_eq!(reader["fit"], "poor");
    assert!(reader["blockers"].contains("/dev/ttyS0"), "{reader:?}");
    assert!(reader["effort_days"].parse::<f64>().unwrap() >= 5.0);
    let old = rows
        .iter()
        .find(|r| r["hostname"] == "web-03" && r["app"] == "nginx")
        .unwrap();
    assert_eq!(old["version"], OLD_NGINX);
    assert!(
        old["differs"].contains(&"version nginx".to_string()),
        "{old:?}"
    );
    let bundled = rows
        .iter()
        .find(|r| r["hostname"] == "web-bundled-02" && r["app"] == "nginx")
        .unwrap();
    assert!(
        bundled["differs"].contains(&format!("config {conf_path}")),
        "{bundled:?}"
    );
    assert!(
        !old["differs"].contains("config "),
        "a host without files is not compared: {old:?}"
    );
    let unreadable: Vec<_> = rows
        .iter()
        .filter(|r| r["status"] == "unreadable")
        .collect();
    assert_eq!(unreadable.len(), 3);
    assert!(unreadable.iter().all(|r| !r["reason"].is_empty()));

    // The differences are the ones planted, and only those hosts carry them.
    let diffs = fleet["differences"].as_array().unwrap();
    let find = |app: &str, kind: &str, subject: &str| {
        diffs
            .iter()
            .find(|x| x["app"] == app && x["kind"] == kind && x["subject"] == subject)
            .unwrap_or_else(|| panic!("no {kind} difference of {app} {subject} in {diffs:#?}"))
    };
    let hosts_with = |diff: &Value, value: &str| -> BTreeSet<String> {
        diff["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .map(|v| {
                v["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        hosts_with(find("nginx", "version", "nginx"), OLD_NGINX),
        old_nginx
    );
    let conf = find("nginx", "config", &conf_path);
    let variants = conf["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "{conf}");
    assert_eq!(
        variants[1]["hosts"],
        json!(["web-bundled-02"]),
        "the edited config stands alone: {conf}"
    );
    assert_eq!(
        variants[0]["hosts"].as_array().unwrap().len(),
        2,
        "the live host and the untouched bundle agree: {conf}"
    );
    assert!(
        !diffs.iter().any(|x| x["app"] == "redis"),
        "redis is the same everywhere it runs: {diffs:#?}"
    );

    // The report reads in a browser.
    let html = report.join("fleet.html");
    let png = browser::screenshot(&html, 3000, "fleet-report.png");
    browser::assert_rendered_png(&png, 1280, 3000);
    let dom = browser::dom(&html);
    assert!(dom.contains("<h1>18 hosts, "), "the title counts the hosts");
    let text = browser::printed_text(&html);
    for wanted in [
        "Where the same application differs",
        "web-bundled-02",
        OLD_NGINX,
        "future.json",
        "/dev/ttyS0",
        "Unreadable snapshots",
    ] {
        assert!(
            text.contains(wanted),
            "printed fleet report lacks {wanted:?}:\n{text}"
        );
    }
}
