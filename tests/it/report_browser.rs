//! The engagement report of a real lift, checked in a real browser: headless Chromium renders
//! report.html to a screenshot, and the assertions read the DOM Chromium built and the text it
//! prints, not the file's bytes.

use crate::browser;
use crate::common;

use common::*;
use std::path::{Path, PathBuf};

fn app_dir(out: &Path, pid: i32) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            std::fs::read_to_string(p.join("plan.yaml"))
                .is_ok_and(|t| t.contains(&format!("pid: {pid}\n")))
        })
        .unwrap_or_else(|| panic!("no app directory for pid {pid} in {}", out.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What every report must show, in the DOM and in print.
fn check_report(dir: &Path, shot: &str) -> (serde_json::Value, String) {
    let report = json(&dir.join("report.json"));
    let plan = liftkit::plan::load(&dir.join("plan.yaml")).unwrap();
    let name = report["app"]["name"].as_str().unwrap().to_string();
    let total = report["files"]["total"].as_u64().unwrap();
    // Each file once, under the path the image holds it at: a merged-/usr host names a
    // library both as /lib/… and /usr/lib/…, which the report shows as a link.
    let distinct: std::collections::BTreeSet<std::path::PathBuf> = plan.apps[0]
        .files
        .iter()
        .map(|f| std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone().into()))
        .collect();
    assert_eq!(
        total as usize,
        distinct.len(),
        "the report counts every file taken, once"
    );
    let fit = report["fit"]["level"].as_str().unwrap().to_string();

    let html_path = dir.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for outside in ["<script", "<link", " src=", " href=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "report.html must be self-contained, found {outside:?}"
        );
    }
    assert!(html.contains("<svg"), "the size chart is inline SVG");

    let png = browser::screenshot(&html_path, 4000, shot);
    browser::assert_rendered_png(&png, 1280, 4000);

    let dom = browser::dom(&html_path);
    assert!(
        dom.contains(&format!("<h1>{name} ")),
        "the title names {name}"
    );
    assert!(
        dom.contains(&format!(
            "<div class=\"k\">Files taken</div><div class=\"v\">{total}</div>"
        )),
        "the summary shows the file count {total}"
    );
    assert!(
        dom.contains("<h3 id=\"role-code\">Code "),
        "files are grouped by role"
    );
    assert!(
        dom.contains(&format!("badge fit-{fit}\">fit: {fit}")),
        "the fit level is shown"
    );
    assert!(dom.matches("<rect ").count() >= 3, "the chart has its bars");

    let text = browser::printed_text(&html_path);
    for wanted in [
        name.as_str(),
        "Files taken",
        &total.to_string(),
        "Source host",
        "Files taken, by role",
        "Image size against the host",
        "Findings and fit",
        "Hardening",
        "Capabilities kept",
        "How to run it",
        "linuxkit build -format kernel+initrd",
        "Verification: not run",
    ] {
        assert!(
            text.contains(wanted),
            "printed report lacks {wanted:?}:\n{text}"
        );
    }
    (report, text)
}

#[test]
fn report_html_of_real_lifts_renders_in_chromium() {
    let dir = public_tempdir();
    let (nginx_port, redis_port) = (free_port(), free_port());
    let nginx = start_nginx(&dir.path().join("nginx"), nginx_port);
    let redis = start_redis(&dir.path().join("redis"), redis_port);
    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args([
                "lift",
                "--pid",
                &nginx.pid().to_string(),
                "--pid",
                &redis.pid().to_string(),
                "-o",
            ])
            .arg(&out),
    );

    let (report, text) = check_report(&app_dir(&out, nginx.pid()), "nginx-report.png");
    assert_eq!(report["fit"]["level"], "good");
    assert!(text.contains("libc6"), "packages appear by name");
    assert!(
        text.contains(&format!("127.0.0.1:{nginx_port}/tcp")),
        "the port it listened on"
    );
    let host_bytes = report["sizes"]["host_packages_bytes"].as_u64().unwrap();
    let image_bytes = report["image"]["content_bytes"].as_u64().unwrap();
    assert!(
        host_bytes > image_bytes,
        "nginx's packages install more than its image holds"
    );

    let (report, text) = check_report(&app_dir(&out, redis.pid()), "redis-report.png");
    assert_eq!(report["app"]["analyzer"], "redis");
    let rows = report["volumes"]["rows"].as_array().unwrap();
    let volume = rows
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("/data"))
        .unwrap_or_else(|| panic!("redis's data dir is a volume: {rows:?}"));
    assert!(text.contains(volume["path"].as_str().unwrap()));
}
