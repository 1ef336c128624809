//! Choosing an application by name: a name that fits several instances is an error listing them
//! and how to choose, never a silent pick of the first.

use crate::common;

use common::*;

#[test]
fn an_app_name_shared_by_two_instances_is_refused_with_the_candidates() {
    let dir = public_tempdir();
    let (a_port, b_port) = (free_port(), free_port());
    let a = start_nginx(&dir.path().join("a"), a_port);
    let b = start_nginx(&dir.path().join("b"), b_port);
    let out = dir.path().join("out");
    let run = liftkit()
        .args(["lift", "--app", "nginx", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "ambiguity is bad input:\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("liftkit: error:"))
        .unwrap_or_else(|| panic!("an error line:\n{err}"));
    for (port, daemon) in [(a_port, &a), (b_port, &b)] {
        assert!(
            line.contains(&format!("nginx-{port} (pids {}", daemon.pid())),
            "each instance is listed with its pids: {line}"
        );
    }
    assert!(line.contains("--app nginx-"), "how to choose: {line}");
    assert!(line.contains("--pid PID"), "how to choose: {line}");
    assert!(!out.exists(), "nothing lifted: {}", out.display());

    // Each instance's own name still lifts exactly that one.
    let run = liftkit()
        .args(["lift", "--app", &format!("nginx-{b_port}"), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(plan.contains(&format!("name: nginx-{b_port}")), "{plan}");
    assert!(!plan.contains(&format!("nginx-{a_port}")), "{plan}");
}

/// `collect --bundle --app X` carries X's files only: analyzing that snapshot plans X, not every
/// application of the host (the others' files are not in the bundle).
#[test]
fn a_bundle_made_for_one_app_is_analyzed_for_that_app() {
    let dir = public_tempdir();
    let (a_port, b_port) = (free_port(), free_port());
    let _a = start_nginx(&dir.path().join("a"), a_port);
    let _b = start_nginx(&dir.path().join("b"), b_port);
    let name = format!("nginx-{a_port}");
    let snap = dir.path().join("site/snapshot.json");
    std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
    run_ok(
        liftkit()
            .args(["collect", "--bundle", "--app", &name, "-o"])
            .arg(&snap),
    );
    let plan = dir.path().join("plan.yaml");
    let run = run_ok(liftkit().arg("analyze").arg(&snap).arg("-o").arg(&plan));
    let plan = liftkit::plan::load(&plan).unwrap();
    let names: Vec<&str> = plan.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [name.as_str()], "only the bundled app is planned");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("its bundle holds the files of {name}")),
        "{stderr}"
    );

    // collect without --bundle has nothing to choose for: --app is refused, not ignored.
    let refused = liftkit()
        .args(["collect", "--app", &name, "-o"])
        .arg(dir.path().join("other.json"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--bundle"));
    assert!(!dir.path().join("other.json").exists());
}
