//! The analyzed stacks lifted with analyzers off (`lift --generic`): the measure of the generic
//! path on programs whose analyzers would otherwise do the work.

use crate::common::*;
use crate::corpus::lift;

#[test]
fn nginx_lifts_with_generic() {
    lift("nginx", true);
}

/// redis rewrites its title to `redis-server ADDR:PORT` and holds no descriptor of its config,
/// so a redis started by hand leaves no evidence of its command line but the analyzer's live
/// INFO query. The corpus's redis is started as legacy hosts start it, by an init script of its
/// own (in a private mount namespace: the machine's /etc is not touched), and the script is
/// the evidence: lifted by pid with analyzers off, its entrypoint and config come from there.
#[test]
fn redis_started_by_its_init_script_lifts_with_generic_and_keeps_its_data() {
    let r = lift("redis", true);
    assert!(r.after.contains("kept"), "its data came along: {}", r.after);
    assert!(
        r.lift_log.is_empty() || !r.lift_log.contains("guessed entrypoint"),
        "{}",
        r.lift_log
    );
    let plan = std::fs::read_to_string(r.app_dir.as_ref().unwrap().join("plan.yaml")).unwrap();
    assert!(plan.contains("analyzer: generic"), "analyzers off: {plan}");
    assert!(
        plan.contains("entrypoint /usr/bin/redis-server /") && plan.contains("/etc/init.d/lkredis"),
        "the entrypoint from the script's start-stop-daemon line: {plan}"
    );
}

#[test]
fn postgres_lifts_with_generic_and_keeps_its_table() {
    let r = lift("postgres", true);
    assert_eq!(r.after, "kept", "its table came along");
}

#[test]
fn apache_with_mod_php_lifts_with_generic() {
    let r = lift("apache", true);
    assert!(
        r.after.contains("mbstring: GRÜSSE AUS DEM CONTAINER"),
        "PHP ran with its extension: {}",
        r.after
    );
}

#[test]
fn gunicorn_lifts_with_generic() {
    lift("gunicorn", true);
}

#[test]
fn tomcat_lifts_with_generic() {
    let r = lift("tomcat", true);
    assert!(r.after.contains("sum=42"), "the JSP compiled: {}", r.after);
}

/// The same redis started by hand (no script, no unit): nothing shows how it was started, and
/// the lift says so instead of building an image that fails quietly.
#[test]
fn redis_started_by_hand_with_generic_says_its_entrypoint_is_a_guess() {
    let work = public_tempdir();
    let port = free_port();
    let running = liftkit::bench::testbed::redis::start(work.path(), port).unwrap();
    let out = work.path().join("out");
    let o = run_ok(
        liftkit()
            .args(["lift", "--generic", "--no-trial", "--pid"])
            .arg(running.pid.to_string())
            .arg("-o")
            .arg(&out),
    );
    drop(running);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("guessed entrypoint /usr/bin/redis-server 127.0.0.1:")
            && err.contains("rewrote its command line into a title"),
        "{err}\n{}",
        std::fs::read_to_string(out.join("plan.yaml")).unwrap_or_default()
    );
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(
        !plan.contains("fit: good"),
        "a guess lowers the fit: {plan}"
    );
}
