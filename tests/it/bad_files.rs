//! Hand-edited or corrupt snapshots and plans: one line naming the file, line, column and what
//! was expected, exit code 2. A run that finishes with error-level findings exits 1.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit 2 for a bad file:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("liftkit: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0].to_string()
}

/// A real snapshot of this host and a real plan from it, to edit.
fn originals(dir: &Path) -> (PathBuf, PathBuf) {
    let snapshot = dir.join("snapshot.json");
    run_ok(liftkit().args(["collect", "-o"]).arg(&snapshot));
    let plan = dir.join("plan.yaml");
    let pid = std::process::id().to_string();
    let out = liftkit()
        .arg("analyze")
        .arg(&snapshot)
        .args(["--pid", &pid, "-o"])
        .arg(&plan)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    (snapshot, plan)
}

/// `text` with the first line containing `needle` replaced by `with`; returns the 1-based line.
fn edit_line(text: &str, needle: &str, with: &dyn Fn(&str) -> String) -> (String, usize) {
    let mut at = 0;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if at == 0 && l.contains(needle) {
                at = i + 1;
                with(l)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(at > 0, "{needle:?} not found");
    (lines.join("\n") + "\n", at)
}

#[test]
fn edited_snapshots_name_file_line_column_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, _) = originals(dir.path());
    let text = std::fs::read_to_string(&snapshot).unwrap();
    let analyze = |p: &Path| {
        error_line(
            &liftkit()
                .arg("analyze")
                .arg(p)
                .arg("-o")
                .arg(dir.path().join("x.yaml"))
                .output()
                .unwrap(),
        )
    };

    // A pid made a string by hand.
    let (bad, line) = edit_line(&text, "\"pid\":", &|l| {
        l.replacen("\"pid\": ", "\"pid\": \"one\" , \"x\": ", 1)
    });
    let p = dir.path().join("typed.json");
    std::fs::write(&p, bad).unwrap();
    let e = analyze(&p);
    assert!(e.contains(&format!("typed.json:{line}:")), "{e}");
    assert!(e.contains("expected i32"), "{e}");

    // Cut off in the middle, as a full disk leaves it.
    let p = dir.path().join("cut.json");
    std::fs::write(&p, &text[..text.len() / 2]).unwrap();
    let e = analyze(&p);
    assert!(
        e.contains("cut.json:") && e.contains("EOF while parsing"),
        "{e}"
    );

    // A trailing comma, the commonest hand edit.
    let (bad, line) = edit_line(&text, "\"hostname\":", &|l| format!("{l},"));
    let p = dir.path().join("comma.json");
    std::fs::write(&p, bad).unwrap();
    let e = analyze(&p);
    assert!(
        e.contains(&format!("comma.json:{}:", line + 1))
            || e.contains(&format!("comma.json:{line}:")),
        "{e}"
    );

    // Not JSON at all, and not text at all.
    let p = dir.path().join("yaml.json");
    std::fs::write(&p, "schema: 1\n").unwrap();
    assert!(analyze(&p).contains("yaml.json:1:1: not a valid snapshot: expected value"));
    let p = dir.path().join("binary.json");
    std::fs::write(&p, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    let e = analyze(&p);
    assert!(e.contains("binary.json") && e.contains("UTF-8"), "{e}");
}

#[test]
fn edited_plans_name_file_line_column_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plan) = originals(dir.path());
    let text = std::fs::read_to_string(&plan).unwrap();
    let build = |p: &Path| {
        let out = dir.path().join("out");
        let e = error_line(
            &liftkit()
                .arg("build")
                .arg(p)
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap(),
        );
        assert!(!out.join("build.json").exists());
        e
    };

    // A uid that is not a number.
    let (bad, line) = edit_line(&text, "  uid: ", &|l| {
        l.replacen("uid: ", "uid: root # was a number ", 1)
    });
    let p = dir.path().join("uid.yaml");
    std::fs::write(&p, bad).unwrap();
    let e = build(&p);
    assert!(
        e.contains(&format!("uid.yaml:{line}:")) && e.contains("expected u32"),
        "{e}"
    );

    // A misspelt key.
    let (bad, line) = edit_line(&text, "  entrypoint:", &|l| {
        l.replacen("entrypoint", "entrypiont", 1)
    });
    let p = dir.path().join("typo.yaml");
    std::fs::write(&p, bad).unwrap();
    let e = build(&p);
    assert!(e.contains("typo.yaml:") && e.contains("entrypiont"), "{e}");
    assert!(
        e.contains(&format!(":{line}:"))
            || e.contains("unknown field")
            || e.contains("missing field"),
        "{e}"
    );

    // A tab in the indentation, as an editor inserts it.
    let (bad, line) = edit_line(&text, "  analyzer:", &|l| l.replacen("  ", "\t", 1));
    let p = dir.path().join("tab.yaml");
    std::fs::write(&p, bad).unwrap();
    let e = build(&p);
    assert!(e.contains(&format!("tab.yaml:{line}:")), "{e}");

    // Valid YAML, but a path that climbs out of the image.
    let (bad, _) = edit_line(&text, "- path: /", &|l| {
        l.replacen("path: /", "path: /../../etc/", 1)
    });
    let p = dir.path().join("climb.yaml");
    std::fs::write(&p, bad).unwrap();
    let e = build(&p);
    assert!(
        e.contains("climb.yaml") && e.contains("must not contain '..'"),
        "{e}"
    );
}

#[test]
fn a_run_that_finishes_with_error_findings_exits_1_and_a_clean_one_0() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, plan) = originals(dir.path());
    let pid = std::process::id() as i64;
    // The test process analyzes cleanly: its executable is readable.
    let ok = liftkit()
        .arg("analyze")
        .arg(&snapshot)
        .args(["--pid", &pid.to_string(), "-o"])
        .arg(dir.path().join("ok.yaml"))
        .output()
        .unwrap();
    let ok_err = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "{ok_err}");
    // Hand-edit the snapshot as if its executable had been unreadable at collect time.
    let mut snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    for p in snap["processes"].as_array_mut().unwrap() {
        if p["pid"].as_i64() == Some(pid) {
            p["exe"] = serde_json::Value::Null;
        }
    }
    let edited = dir.path().join("no-exe.json");
    std::fs::write(&edited, serde_json::to_string_pretty(&snap).unwrap()).unwrap();
    let out = liftkit()
        .arg("analyze")
        .arg(&edited)
        .args(["--pid", &pid.to_string(), "-o"])
        .arg(dir.path().join("no-exe.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "error-level findings give exit 1:\n{err}"
    );
    assert!(err.contains("executable could not be read"), "{err}");
    assert!(
        dir.path().join("no-exe.yaml").exists(),
        "the plan is still written"
    );
    // And a build of a good plan exits 0.
    let out = liftkit()
        .arg("build")
        .arg(&plan)
        .arg("-o")
        .arg(dir.path().join("built"))
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let build_err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code() == Some(1),
        build_err.lines().any(|l| l.starts_with("error:")),
        "exit 1 exactly when an error-level finding is reported:\n{build_err}"
    );
}

/// A plan naming a populate strategy the registry does not know is refused when it loads, at
/// the line that names it, before anything is built.
#[test]
fn an_unknown_populate_strategy_is_refused_at_plan_load() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/redis");
    let text = std::fs::read_to_string(sample.join("plan.golden.yaml")).unwrap();
    let (bad, line) = edit_line(&text, "    populate: true", &|l| {
        format!("{l}\n    populate_with: rsync")
    });
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, bad).unwrap();
    let out = dir.path().join("out");
    let e = error_line(
        &liftkit()
            .arg("build")
            .arg(&plan)
            .arg("--root")
            .arg(sample.join("root"))
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap(),
    );
    assert_eq!(
        e,
        format!(
            "liftkit: error: {}:{}:20: not a valid plan: app redis: volume /var/lib/redis: populate_with: unknown \
             populate strategy \"rsync\" (known: pg_basebackup, image)",
            plan.display(),
            line + 1
        )
    );
    assert!(!out.exists(), "nothing written");
}
