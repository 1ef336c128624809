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
