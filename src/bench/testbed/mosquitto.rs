//! mosquitto with `-d` (cause 5) and `-c conf` (cause 1), whose password file and persistence
//! directory are named only in that config (cause 2, and a data directory: cause 6).

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;
use std::process::Command;

pub const SERVICE: Service = Service::corpus(
    "mosquitto",
    ("/usr/sbin/mosquitto", "mosquitto"),
    "1 (-c conf), 2 (password_file in conf), 5 (-d), 6 (persistence dir)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(super::io(&data))?;
    super::chown(&data, "mosquitto")?;
    // It writes its pid file after dropping to its user: a run directory of its own.
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(super::io(&run_dir))?;
    super::chown(&run_dir, "mosquitto")?;
    let passwd = dir.join("passwd");
    let out = Command::new("/usr/bin/mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwd)
        .args(["corpus", "s3cret"])
        .output()
        .map_err(super::io(&passwd))?;
    if !out.status.success() {
        return Err(TestbedError::Start {
            service: "mosquitto".into(),
            what: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    super::chown(&passwd, "mosquitto")?;
    super::set_mode(&passwd, 0o600)?;
    write(
        &dir.join("mosquitto.conf"),
        &format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {d}/passwd\n\
             persistence true\npersistence_location {d}/data/\npid_file {d}/run/mosquitto.pid\n\
             user mosquitto\nlog_dest stderr\n"
        ),
    )?;
    run(
        "mosquitto",
        daemon_command("/usr/sbin/mosquitto")
            .arg("-d")
            .arg("-c")
            .arg(dir.join("mosquitto.conf")),
    )?;
    super::started("mosquitto", port, probe, &dir.join("none.log"))
}

/// MQTT 3.1.1 CONNECT with the right and a wrong password: the CONNACK return codes.
fn probe(port: u16) -> Result<String, String> {
    Ok(format!(
        "right password: {} | wrong password: {}",
        connack(port, "s3cret")?,
        connack(port, "wrong")?
    ))
}

fn connack(port: u16, password: &str) -> Result<String, String> {
    let field = |s: &str| {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    let mut body = field("MQTT");
    body.extend_from_slice(&[4, 0xc2, 0, 30]);
    body.extend(field("liftkit-corpus"));
    body.extend(field("corpus"));
    body.extend(field(password));
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    let reply = super::exchange(port, &packet, Some(&[0x20, 2]))?;
    let code = reply.get(3).ok_or("no CONNACK")?;
    Ok(format!("CONNACK {code}"))
}
