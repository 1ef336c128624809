//! OpenSSH's sshd with `-f conf` (cause 1), its host key named in that config (cause 2): a
//! secret, which the image must not hold and run.sh mounts; sshd forks into the background by
//! default (cause 5) and needs its privilege separation directory.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;
use std::process::Command;

pub const SERVICE: Service = Service::corpus(
    "sshd",
    ("/usr/sbin/sshd", "openssh-server"),
    "1 (-f conf), 2 (HostKey in conf: a secret mounted by run.sh), 5 (daemonizes)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let d = dir.display();
    let key = dir.join("keys/ssh_host_ed25519_key");
    std::fs::create_dir_all(dir.join("keys")).map_err(super::io(dir))?;
    if !key.exists() {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "corpus", "-f"])
            .arg(&key)
            .output()
            .map_err(super::io(&key))?;
        if !out.status.success() {
            return Err(TestbedError::Start {
                service: "sshd".into(),
                what: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
    }
    // What the package's unit makes (RuntimeDirectory=sshd) on a host where sshd runs.
    std::fs::create_dir_all("/run/sshd").map_err(super::io(Path::new("/run/sshd")))?;
    write(
        &dir.join("sshd_config"),
        &format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/keys/ssh_host_ed25519_key\n\
             PidFile {d}/sshd.pid\nPasswordAuthentication no\nUsePAM no\n"
        ),
    )?;
    run(
        "sshd",
        daemon_command("/usr/sbin/sshd")
            .arg("-f")
            .arg(dir.join("sshd_config")),
    )?;
    super::started("sshd", port, probe, &dir.join("none.log"))
}

/// The version banner and the host key the server proves it holds.
fn probe(port: u16) -> Result<String, String> {
    let banner = super::exchange(port, b"", Some(b"\r\n"))?;
    let out = Command::new("ssh-keyscan")
        .args(["-t", "ed25519", "-p", &port.to_string(), "127.0.0.1"])
        .output()
        .map_err(|e| format!("ssh-keyscan: {e}"))?;
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .ok_or("no host key from ssh-keyscan")?;
    Ok(format!(
        "{} | ed25519 {key}",
        String::from_utf8_lossy(&banner).trim()
    ))
}
