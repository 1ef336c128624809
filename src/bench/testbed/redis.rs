//! redis with its own config file (`daemonize yes`), data in its own directory. The corpus's
//! redis is started by an init script of its own, as legacy hosts start it: redis rewrites its
//! command line into a title (`redis-server 127.0.0.1:PORT`) and keeps no descriptor of its
//! config, so without an analyzer the script is the only evidence of how it was started.

use super::{write, Launch, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service {
    name: "redis",
    needs: ("/usr/bin/redis-server", "redis-server"),
    covers: "analyzed stack (config file argument, daemonize yes, data dir)",
    analyzed: true,
    init_script: true,
    start: start_by_script,
};

/// redis with its data in `dir/data`, saving nothing on its own during the test.
pub fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    start_with(dir, port, &Launch::Direct)
}

pub fn start_with(dir: &Path, port: u16, launch: &Launch) -> Result<Running, TestbedError> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(super::io(&data))?;
    let conf = dir.join("redis.conf");
    write(
        &conf,
        &format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\ndir {d}/data\ndbfilename dump.rdb\n\
             pidfile {d}/redis.pid\nlogfile {d}/redis.log\nsave \"\"\nprotected-mode yes\n",
            d = dir.display()
        ),
    )?;
    launch.run(
        "redis",
        launch
            .command("/usr/bin/redis-server")
            .arg(&conf)
            .current_dir("/"),
    )?;
    super::started("redis", port, probe, &dir.join("redis.log"))
}

/// The corpus's redis: `/etc/init.d/lkredis start` (start-stop-daemon as the redis user, the
/// config from `/etc/default/lkredis`), a key written and saved before the lift, which the
/// image must carry. Needs the private /etc of [`super::private_etc`].
fn start_by_script(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(super::io(&data))?;
    let d = dir.display();
    write(
        &dir.join("redis.conf"),
        &format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\ndir {d}/data\ndbfilename dump.rdb\n\
             pidfile {d}/redis.pid\nlogfile {d}/redis.log\nsave \"\"\nprotected-mode yes\n"
        ),
    )?;
    let script = dir.join("etc/init.d/lkredis");
    write(
        &script,
        &format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          lkredis\n\
             # Default-Start:     2 3 4 5\n### END INIT INFO\nDAEMON=/usr/bin/redis-server\n\
             PIDFILE={d}/redis.pid\n[ -r /etc/default/lkredis ] && . /etc/default/lkredis\n\
             case \"$1\" in\n  start)\n    start-stop-daemon --start --quiet --chuid redis:redis \
             --pidfile $PIDFILE --exec $DAEMON -- $CONF\n    ;;\n  stop)\n    \
             start-stop-daemon --stop --quiet --retry 10 --pidfile $PIDFILE --exec $DAEMON\n    \
             ;;\nesac\n"
        ),
    )?;
    super::set_mode(&script, 0o755)?;
    write(
        &dir.join("etc/default/lkredis"),
        &format!("CONF={d}/redis.conf\n"),
    )?;
    for p in [dir.to_path_buf(), data.clone()] {
        super::chown(&p, "redis")?;
    }
    super::run(
        "redis",
        std::process::Command::new("/etc/init.d/lkredis").arg("start"),
    )?;
    let r = super::started("redis", port, probe, &dir.join("redis.log"))?;
    command(port, &["SET", "corpus", "kept"])?;
    command(port, &["SAVE"])?;
    Ok(r)
}

/// redis started directly, a key written and saved.
pub fn start_with_data(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let r = start(dir, port)?;
    command(port, &["SET", "corpus", "kept"])?;
    command(port, &["SAVE"])?;
    Ok(r)
}

/// Sends one redis command (RESP) and returns the raw reply.
pub fn command(port: u16, args: &[&str]) -> Result<String, TestbedError> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    let reply = super::exchange(port, req.as_bytes(), Some(b"\r\n")).map_err(|what| {
        TestbedError::Start {
            service: "redis".to_string(),
            what,
        }
    })?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

pub fn probe(port: u16) -> Result<String, String> {
    let reply = super::exchange(port, b"GET corpus\r\n", Some(b"kept\r\n"))?;
    Ok(String::from_utf8_lossy(&reply).trim().to_string())
}
