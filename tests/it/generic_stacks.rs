//! The analyzed stacks lifted with analyzers off (`lift --generic`): the measure of the generic
//! path on programs whose analyzers would otherwise do the work.

use crate::common::*;
use crate::corpus::lift;
use std::time::Duration;

#[test]
fn nginx_lifts_with_generic() {
    lift("nginx", true);
}

/// redis rewrites its title to `redis-server ADDR:PORT` and holds no descriptor of its config,
/// so a redis started by hand from a shell leaves no evidence of its command line but the
/// analyzer's live INFO query. A legacy host starts it with an init script, and the script is
/// the evidence: lifted by pid with analyzers off, its entrypoint and config come from there.
/// The script is put in place inside a private mount namespace of this test's thread (bind
/// mounts over /etc/init.d and /etc/default), so the host's own /etc is never touched.
#[test]
fn redis_started_by_its_init_script_lifts_with_generic_and_keeps_its_data() {
    use liftkit::bench::testbed::redis::command;
    let work = public_tempdir();
    let w = work.path().to_path_buf();
    let port = free_port();
    for d in ["data", "init.d", "default"] {
        std::fs::create_dir_all(w.join(d)).unwrap();
    }
    std::fs::write(
        w.join("redis.conf"),
        format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\npidfile {d}/redis.pid\n\
             logfile {d}/redis.log\ndir {d}/data\nsave \"\"\n",
            d = w.display()
        ),
    )
    .unwrap();
    std::fs::write(
        w.join("init.d/lkredis"),
        format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          lkredis\n\
             # Default-Start:     2 3 4 5\n### END INIT INFO\nDAEMON=/usr/bin/redis-server\n\
             PIDFILE={d}/redis.pid\n[ -r /etc/default/lkredis ] && . /etc/default/lkredis\n\
             case \"$1\" in\n  start)\n    start-stop-daemon --start --quiet --chuid redis:redis \
             --pidfile $PIDFILE --exec $DAEMON -- $CONF\n    ;;\n  stop)\n    \
             start-stop-daemon --stop --quiet --retry 10 --pidfile $PIDFILE --exec $DAEMON\n    \
             ;;\nesac\n",
            d = w.display()
        ),
    )
    .unwrap();
    set_mode(&w.join("init.d/lkredis"), 0o755);
    std::fs::write(
        w.join("default/lkredis"),
        format!("CONF={}/redis.conf\n", w.display()),
    )
    .unwrap();
    run_ok(
        std::process::Command::new("chown")
            .args(["-R", "redis:redis"])
            .arg(&w),
    );
    let out = w.join("out");

    // Start, write a key, lift by pid with analyzers off, stop: all in the private namespace.
    let (w2, out2) = (w.clone(), out.clone());
    let lift = std::thread::spawn(move || {
        private_mounts(&[
            (w2.join("init.d"), "/etc/init.d"),
            (w2.join("default"), "/etc/default"),
        ]);
        run_ok(std::process::Command::new("/etc/init.d/lkredis").arg("start"));
        assert!(
            wait_for_port(port, Duration::from_secs(15)),
            "redis started"
        );
        assert_eq!(
            command(port, &["SET", "corpus", "kept"]).unwrap(),
            "+OK\r\n"
        );
        command(port, &["SAVE"]).unwrap();
        let pid = std::fs::read_to_string(w2.join("redis.pid")).unwrap();
        let o = liftkit()
            .args(["lift", "--generic", "--pid", pid.trim(), "-o"])
            .arg(&out2)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS)
            .output()
            .unwrap();
        run_ok(std::process::Command::new("/etc/init.d/lkredis").arg("stop"));
        o
    })
    .join()
    .unwrap();
    let log = String::from_utf8_lossy(&lift.stderr).into_owned();
    assert!(lift.status.success(), "{log}");
    assert!(
        wait_for_port_closed(port, Duration::from_secs(10)),
        "the original is stopped before the image starts"
    );
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(plan.contains("analyzer: generic"), "analyzers off: {plan}");
    assert!(
        plan.contains(&format!(
            "entrypoint /usr/bin/redis-server {}/redis.conf",
            w.display()
        )),
        "the entrypoint from the script's start-stop-daemon line: {plan}"
    );
    let app = app_dir(&out);
    let name = format!("lk-generic-redis-{port}");
    let _cleanup = Cleanup {
        container: name.clone(),
        image: String::new(),
    };
    start_lifted(&app, &name);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "the lifted redis listens on the original's port: {}\n{log}",
        container_logs(&name)
    );
    assert_eq!(
        command(port, &["GET", "corpus"]).unwrap(),
        "$4\r\nkept\r\n",
        "the key saved before the lift is served from the populated volume"
    );
}

/// This thread's own mount namespace (children it starts inherit it), `/` made private so
/// nothing propagates back, and each directory bound over its place.
fn private_mounts(binds: &[(std::path::PathBuf, &str)]) {
    use std::ffi::CString;
    // SAFETY: unshare and mount with valid C strings; CLONE_NEWNS unshares this thread's
    // file-system context only (allowed in a multi-threaded process).
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
        let root = CString::new("/").unwrap();
        assert_eq!(
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0
        );
        for (from, to) in binds {
            let f = CString::new(from.to_str().unwrap()).unwrap();
            let t = CString::new(*to).unwrap();
            assert_eq!(
                libc::mount(
                    f.as_ptr(),
                    t.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null()
                ),
                0,
                "bind {} over {to}",
                from.display()
            );
        }
    }
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
