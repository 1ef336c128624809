//! The CLI's own words, checked as golden files (tests/golden/cli/, `LIFTKIT_BLESS=1` rewrites
//! them): every help page, the messages bad input gets, and the listing `lift --list` prints.
//! Each case runs the real binary.

use crate::common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

/// Every command and subcommand; `every_help_page_is_golden` checks none is missing.
const COMMANDS: &[&str] = &[
    "",
    "lift",
    "collect",
    "analyze",
    "build",
    "verify",
    "deps",
    "analyzers",
    "analyzers list",
    "analyzers show",
    "analyzers check",
    "wizard",
    "batch",
    "host-image",
    "host-kernel",
    "bench",
    "bench deps",
    "bench size",
    "bench boot",
    "bench footprint",
    "bench parity",
    "bench generic",
    "bench collect",
    "bench build",
    "bench batch",
    "bench lift",
    "engagement",
    "engagement init",
    "engagement scope",
    "engagement sow",
    "engagement run",
    "engagement status",
    "engagement log",
    "engagement handover",
];

fn golden_name(command: &str) -> String {
    if command.is_empty() {
        "help".to_string()
    } else {
        format!("help-{}", command.replace(' ', "-"))
    }
}

/// The subcommands a help page lists under `Commands:` (`help` aside).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// One layout for every page: an option's description on its own line, options apart by blank
/// lines, is clap's long layout, which one long description switches a whole page to.
fn assert_one_layout(command: &str, help: &str) {
    let lines: Vec<&str> = help.lines().collect();
    for w in lines.windows(2) {
        let option = |l: &str| {
            let t = l.trim_start();
            (l.starts_with("  -") || l.starts_with("      --")) && t.starts_with('-')
        };
        assert!(
            !(w[0].trim().is_empty() && option(w[1])),
            "liftkit {command} --help: options apart by blank lines (the long layout):\n{help}"
        );
    }
    for l in &lines {
        let l = l.trim_end();
        let flag = l.trim_start();
        let bare = (l.starts_with("  -") || l.starts_with("      --"))
            && !flag.contains("  ")
            && !l.ends_with("...");
        assert!(
            !bare,
            "liftkit {command} --help: {flag:?} has no description on its line:\n{help}"
        );
    }
}

#[test]
fn every_help_page_is_golden() {
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for command in COMMANDS {
        let args: Vec<&str> = command.split_whitespace().chain(["--help"]).collect();
        let shown = args.join(" ");
        let text = run_for_golden(liftkit().args(&args), &shown, &[]);
        assert!(text.contains("exit code: 0\n"), "{text}");
        for sub in listed_commands(&text) {
            listed.insert(format!("{command} {sub}").trim().to_string());
        }
        assert_one_layout(command, &text);
        seen.insert(command.to_string());
        let name = golden_name(command);
        if let Err(e) = std::panic::catch_unwind(|| assert_golden(&name, &text)) {
            failures.push(e);
        }
    }
    let missing: Vec<&String> = listed.iter().filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "help pages not checked: {missing:?}");
    if let Some(first) = failures.into_iter().next() {
        std::panic::resume_unwind(first);
    }
}

/// A plan that builds: the report fixture, whose files are written under `root/`.
fn write_plan(dir: &Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/plan.yaml");
    let text = std::fs::read_to_string(fixture).unwrap();
    let plan = dir.join("plan.yaml");
    std::fs::write(&plan, edit(&text)).unwrap();
    plan
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
}

fn case(name: &'static str, args: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    }
}

#[test]
fn bad_input_gets_one_clear_line_and_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let d = |p: &str| t.join(p).display().to_string();
    let repo = env!("CARGO_MANIFEST_DIR");
    let snapshot = format!("{repo}/samples/nginx/snapshot.json");
    let plan_golden = format!("{repo}/samples/nginx/plan.golden.yaml");

    std::fs::write(
        t.join("bad.json"),
        "{\n  \"schema\": 1,\n  \"liftkit_version\": 7\n}\n",
    )
    .unwrap();
    let port_abc = write_plan(t, |p| p.replace("ports: [8443/tcp]", "ports: [abc]"));
    std::fs::rename(&port_abc, t.join("port-abc.yaml")).unwrap();
    let port_big = write_plan(t, |p| p.replace("ports: [8443/tcp]", "ports: [99999/tcp]"));
    std::fs::rename(&port_big, t.join("port-range.yaml")).unwrap();
    // `workdir:` moved out of `image:` by one indentation: the mapping ends early, at that line.
    let dedented = write_plan(t, |p| p.replace("\n    workdir: ", "\n  workdir: "));
    std::fs::rename(&dedented, t.join("dedented.yaml")).unwrap();
    let early = write_plan(t, |p| p.replace("\n    gid: 1001\n", "\n  gid: 1001\n"));
    std::fs::rename(&early, t.join("ended-early.yaml")).unwrap();
    write_plan(t, |p| p.to_string());
    std::fs::create_dir_all(t.join("root")).unwrap();
    std::fs::create_dir_all(t.join("full")).unwrap();
    std::fs::write(t.join("full/keep.txt"), "someone's file").unwrap();
    for app in ["nginx", "redis"] {
        std::fs::create_dir_all(t.join("out").join(app)).unwrap();
        std::fs::write(t.join("out").join(app).join("build.json"), "{}").unwrap();
    }
    std::fs::write(
        t.join("typo.toml"),
        "schema = 1\nid = \"x\"\n[detect]\nexe = [\"**/x\"]\nexes = []\n",
    )
    .unwrap();
    for (file, text) in [
        ("port-abc.yaml", "[abc]"),
        ("port-range.yaml", "[99999/tcp]"),
        ("dedented.yaml", "\n  workdir:"),
        ("ended-early.yaml", "\n  gid:"),
    ] {
        assert!(
            std::fs::read_to_string(t.join(file))
                .unwrap()
                .contains(text),
            "{file}: the fixture's port line was edited"
        );
    }

    let cases = vec![
        case(
            "lift-pid-missing",
            &["lift", "--pid", "999999999", "-o", &d("o1")],
        ),
        case("lift-pid-1", &["lift", "--pid", "1", "-o", &d("o1")]),
        case(
            "lift-app-missing",
            &["lift", "--app", "no-such-app", "-o", &d("o1")],
        ),
        case(
            "lift-host-image-option-alone",
            &[
                "lift",
                "--app",
                "nginx",
                "--kernel",
                "/boot/vmlinuz",
                "-o",
                &d("o1"),
            ],
        ),
        case("lift-list-with-app", &["lift", "--list", "--app", "nginx"]),
        case(
            "lift-answers-missing",
            &["lift", "--answers", &d("missing.yaml")],
        ),
        case(
            "collect-app-without-bundle",
            &["collect", "--app", "nginx", "-o", &d("s.json")],
        ),
        case("analyze-missing", &["analyze", &d("missing.json")]),
        case("analyze-bad-json", &["analyze", &d("bad.json")]),
        case("analyze-a-plan", &["analyze", &plan_golden]),
        case(
            "analyze-cpu-level",
            &["analyze", &snapshot, "--cpu-level", "9"],
        ),
        case("build-a-snapshot", &["build", &snapshot, "-o", &d("o2")]),
        case(
            "build-port-not-a-number",
            &["build", &d("port-abc.yaml"), "-o", &d("o2")],
        ),
        case(
            "build-port-out-of-range",
            &["build", &d("port-range.yaml"), "-o", &d("o2")],
        ),
        case(
            "build-key-dedented",
            &["build", &d("dedented.yaml"), "-o", &d("o2")],
        ),
        case(
            "build-mapping-ended-early",
            &["build", &d("ended-early.yaml"), "-o", &d("o2")],
        ),
        case(
            "build-non-empty-output",
            &["build", &d("plan.yaml"), "-o", &d("full")],
        ),
        Case {
            env: vec![("SOURCE_DATE_EPOCH", "yesterday")],
            ..case(
                "build-bad-source-date-epoch",
                &["build", &d("plan.yaml"), "-o", &d("o3")],
            )
        },
        case("verify-missing", &["verify", &d("no-such-app")]),
        case(
            "verify-missing-json",
            &["verify", "--json", &d("no-such-app")],
        ),
        case("verify-output-root", &["verify", &d("out")]),
        case(
            "analyzers-show-unknown",
            &["analyzers", "show", "no-such-analyzer"],
        ),
        case(
            "analyzers-check-typo",
            &["analyzers", "check", &d("typo.toml")],
        ),
        case("batch-missing", &["batch", &d("no-such-dir")]),
        case("host-image-not-an-app", &["host-image", &d("no-such-app")]),
        case(
            "host-kernel-no-source",
            &["host-kernel", "-o", &d("k"), "--source", &d("no-such-tree")],
        ),
        case("wizard-without-terminal", &["wizard"]),
        case("unknown-option", &["lift", "--no-such-option"]),
    ];
    let filters = [
        (regex::escape(&t.display().to_string()), "[TMP]".to_string()),
        (
            r"\(found: [^)]*\)".to_string(),
            "(found: [APPS])".to_string(),
        ),
        (
            r" on \S+: nothing| on \S+ \(found| with pid (\d+) on \S+".to_string(),
            "$0".to_string(),
        ),
    ];
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host_filter = (
        format!(r"\bon {}\b", regex::escape(hostname.trim())),
        "on [HOST]".to_string(),
    );
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .chain([&host_filter])
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut failures = Vec::new();
    for c in &cases {
        let mut cmd = liftkit();
        cmd.args(&c.args).stdin(std::process::Stdio::null());
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let shown: Vec<String> = c
            .args
            .iter()
            .map(|a| a.replace(&t.display().to_string(), "[TMP]"))
            .collect();
        let text = run_for_golden(&mut cmd, &shown.join(" "), &filters);
        assert!(
            text.contains("exit code: 2\n"),
            "{}: bad input exits 2:\n{text}",
            c.name
        );
        assert!(!text.contains("panicked"), "{}:\n{text}", c.name);
        let errors = text
            .lines()
            .filter(|l| l.starts_with("liftkit: error:") || l.starts_with("error:"))
            .count();
        assert_eq!(errors, 1, "{}: one error line:\n{text}", c.name);
        if let Err(e) = std::panic::catch_unwind(|| assert_golden(c.name, &text)) {
            failures.push(e);
        }
    }
    for dir in ["o1", "o2", "o3", "s.json"] {
        assert!(
            !t.join(dir).exists(),
            "nothing written for bad input: {dir}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(t.join("full/keep.txt")).unwrap(),
        "someone's file"
    );
    if let Some(first) = failures.into_iter().next() {
        std::panic::resume_unwind(first);
    }
}

/// `lift --list`, and `lift` with no arguments, with a real nginx and redis running: every column
/// whole (no `…`), aligned under its header; the rows of the test's daemons are golden, pids and
/// ports as placeholders (other programs on the machine come and go).
#[test]
fn the_listing_shows_whole_columns() {
    let dir = public_tempdir();
    let (nginx_port, redis_port) = (free_port(), free_port());
    let nginx = start_nginx(&dir.path().join("nginx"), nginx_port);
    let redis_daemon = start_redis(&dir.path().join("redis"), redis_port);
    // Without a terminal, `lift` with no arguments lists as `lift --list` does.
    let listing = |args: &[&str]| -> String {
        let out = run_ok(
            liftkit()
                .args(args)
                .env("COLUMNS", "100")
                .stdin(std::process::Stdio::null()),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains('…'), "nothing cut:\n{text}");
        let lines: Vec<&str> = text.lines().collect();
        let header = lines[0];
        let starts: Vec<usize> = ["PIDS", "USER", "LISTENS", "ANALYZER", "STARTED BY"]
            .iter()
            .map(|h| header.find(h).unwrap())
            .collect();
        let ours = |pid: i32, port: u16| -> String {
            let row = lines
                .iter()
                .find(|l| l.contains(&format!(":{port}/tcp")))
                .unwrap_or_else(|| panic!("a row listening on {port}:\n{text}"));
            for s in &starts {
                assert_ne!(&row[s - 1..*s], "x", "{row}");
                assert!(
                    row[..*s].ends_with("  ") || row[..*s].ends_with(' '),
                    "cells start under their header ({s}): {row}\n{header}"
                );
            }
            assert!(row.contains(&pid.to_string()), "{row}");
            row.to_string()
        };
        let nginx_row = ours(nginx.pid(), nginx_port);
        let redis_row = ours(redis_daemon.pid(), redis_port);
        let cells = |row: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut bounds = vec![0];
            bounds.extend(&starts);
            bounds.push(row.len());
            for w in bounds.windows(2) {
                out.push(row[w[0]..w[1].min(row.len())].trim().to_string());
            }
            out
        };
        let mut shown = vec![cells(header)];
        for row in [&nginx_row, &redis_row] {
            shown.push(cells(row));
        }
        let rendered: String = shown
            .iter()
            .map(|c| format!("{}\n", c.join(" | ")))
            .collect();
        let footer = lines.last().unwrap();
        let pids = |p: &Daemon| p.pid().to_string();
        let text = format!("$ liftkit {}\n(the test's nginx and redis rows, cells split at the headers)\n{rendered}{footer}\n", args.join(" "));
        let text = apply(
            &text,
            &[
                (&format!(r"\b{}\b", pids(&nginx)), "[NGINX-PID]"),
                (&format!(r"\b{}\b", pids(&redis_daemon)), "[REDIS-PID]"),
                (&format!(r"\b{nginx_port}\b"), "[NGINX-PORT]"),
                (&format!(r"\b{redis_port}\b"), "[REDIS-PORT]"),
                (r",\d+", ",[WORKER-PID]"),
                (r"parent \d+ \S+", "parent [PID] [COMM]"),
                (r"\| nginx(-\[NGINX-PORT\])? \|", "| nginx |"),
                (r"^nginx(-\[NGINX-PORT\])? \|", "nginx |"),
                (r"(?m)^redis(-\[REDIS-PORT\])? \|", "redis |"),
                (r"(?m)^nginx-\[NGINX-PORT\] \|", "nginx |"),
            ],
        );
        text
    };
    assert_golden("lift-list", &listing(&["lift", "--list"]));
    assert_golden("lift", &listing(&["lift"]));
}
