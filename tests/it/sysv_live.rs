//! A daemon started by a SysV init script on this host: redis, started by
//! `/etc/init.d/lkredis start` (LSB header, a defaults file, `ulimit`, `export`,
//! `start-stop-daemon --chuid --chdir --pidfile`). The script and its defaults file are put in
//! place inside a private mount namespace (bind mounts over /etc/init.d and /etc/default), so the
//! host's own /etc is never touched; liftkit collects and analyzes from inside it, reading the
//! live host as always. The plan carries what the script set, each with its line.

use crate::common;

use common::*;
use std::process::Command;

#[test]
fn init_script_settings_reach_the_plan_with_their_reasons() {
    let work = public_tempdir();
    let w = work.path();
    let port = free_port();
    let data = w.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        w.join("redis.conf"),
        format!("bind 127.0.0.1\nport {port}\ndaemonize yes\npidfile {d}/redis.pid\nlogfile {d}/redis.log\ndir {d}/data\nsave \"\"\n", d = w.display()),
    )
    .unwrap();
    let initd = w.join("init.d");
    let default = w.join("default");
    std::fs::create_dir_all(&initd).unwrap();
    std::fs::create_dir_all(&default).unwrap();
    std::fs::write(
        initd.join("lkredis"),
        format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          lkredis
# Required-Start:    $network
# Default-Start:     2 3 4 5
# Short-Description: a legacy redis started the SysV way
### END INIT INFO
DAEMON=/usr/bin/redis-server
NAME=lkredis
PIDFILE={d}/redis.pid
[ -r /etc/default/$NAME ] && . /etc/default/$NAME
. /lib/lsb/init-functions
case "$1" in
  start)
    ulimit -n 4000
    export LKREDIS_MODE=sysv
    start-stop-daemon --start --quiet --chuid redis:redis --chdir {d}/data --pidfile $PIDFILE --exec $DAEMON -- $CONF
    ;;
  stop)
    start-stop-daemon --stop --quiet --pidfile $PIDFILE --exec $DAEMON
    ;;
esac
"#,
            d = w.display()
        ),
    )
    .unwrap();
    set_mode(&initd.join("lkredis"), 0o755);
    std::fs::write(
        default.join("lkredis"),
        format!("CONF={}/redis.conf\n", w.display()),
    )
    .unwrap();
    sh_chown(&format!("chown -R redis:redis {}", w.display()));
    let liftkit = env!("CARGO_BIN_EXE_liftkit");
    let script = format!(
        "set -e; mount --bind {i} /etc/init.d; mount --bind {df} /etc/default; /etc/init.d/lkredis start; \
         for n in $(seq 100); do [ -s {w}/redis.pid ] && break; sleep 0.1; done; \
         {liftkit} collect -o {w}/snap.json 2>/dev/null; \
         {liftkit} analyze {w}/snap.json --pid $(cat {w}/redis.pid) -o {w}/plan.yaml 2>{w}/analyze.err || true; \
         /etc/init.d/lkredis stop",
        i = initd.display(),
        df = default.display(),
        w = w.display()
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        wait_for_port_closed(port, std::time::Duration::from_secs(10)),
        "the script stopped it"
    );
    let plan = std::fs::read_to_string(w.join("plan.yaml"))
        .unwrap_or_else(|_| std::fs::read_to_string(w.join("analyze.err")).unwrap());
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&plan).unwrap();
    let app = &v["apps"][0];
    assert_eq!(app["analyzer"], "redis", "{plan}");
    let findings: Vec<String> = app["findings"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|f| f["subject"] == "/etc/init.d/lkredis")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    let has = |needle: &str| {
        assert!(
            findings.iter().any(|f| f.contains(needle)),
            "{needle:?} in {findings:#?}"
        )
    };
    has("settings carried from the init script");
    has("settings read from /etc/default/lkredis (sourced at /etc/init.d/lkredis:11)");
    has("env LKREDIS_MODE=sysv: export at /etc/init.d/lkredis:16");
    has("limit nofile: ulimit -n 4000 at /etc/init.d/lkredis:15");
    has("user redis: start-stop-daemon at /etc/init.d/lkredis:17");
    has(&format!(
        "working directory {}/data: start-stop-daemon at /etc/init.d/lkredis:17",
        w.display()
    ));
    let image = &app["image"];
    assert_eq!(image["user"], "redis", "{plan}");
    let env = serde_yaml_ng::to_string(&image["env"]).unwrap();
    assert!(env.contains("LKREDIS_MODE=sysv"), "{env}");
    let limits = serde_yaml_ng::to_string(&image).unwrap();
    assert!(
        limits.contains("4000"),
        "the script's ulimit in the image: {limits}"
    );
}

fn sh_chown(cmd: &str) {
    assert!(Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .unwrap()
        .success());
}
