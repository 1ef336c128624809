//! redis with its own config file (`daemonize yes`), data in its own directory.

use super::{write, Launch, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service {
    name: "redis",
    needs: ("/usr/bin/redis-server", "redis-server"),
    covers: "analyzed stack (config file argument, daemonize yes, data dir)",
    analyzed: true,
    start: start_with_data,
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

/// The corpus's redis: a key written and saved before the lift, which the image must carry.
fn start_with_data(dir: &Path, port: u16) -> Result<Running, TestbedError> {
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
