//! Shared pieces of the integration tests: real daemons started the way a legacy host runs them,
//! a real container engine, and small protocol clients.

#![allow(dead_code)]

mod golden;
mod hardening;
pub use golden::*;
pub use hardening::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary, with this machine's engine settings (a lift's trial run and verify start
/// images; a test may set its own).
pub fn liftkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_liftkit"));
    c.env("ENGINE", ENGINE)
        .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS);
    c
}

/// `liftkit verify --json APP_DIR` (with `extra` options) under the test engine, asserted to
/// answer the same as the original (verdict `same`, exit code 0); the report.
pub fn verify_same(app_dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = liftkit()
        .args(["verify", "--json"])
        .args(extra)
        .arg(app_dir)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["verdict"], "same", "{report:#}");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    report
}

/// A run refused as bad input: exit code 2 and one `liftkit: error:` line (returned), no panic.
pub fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "exit code 2: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("liftkit: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line:\n{err}");
    assert!(!err.contains("panicked"), "no panic:\n{err}");
    lines[0].to_string()
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn free_port() -> u16 {
    match liftkit::bench::testbed::free_port() {
        0 => panic!("no free loopback port"),
        port => port,
    }
}

/// The testbed's waits (the benchmarks start the same daemons): whether the loopback port
/// accepts, or stopped accepting, within `timeout`.
pub use liftkit::bench::testbed::{
    wait_closed as wait_for_port_closed, wait_port as wait_for_port,
};

/// (status, body) of a plain HTTP/1.0 GET.
pub fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, resp[split + 4..].to_vec())
}

/// Sends one redis command (RESP) and returns the raw reply.
pub fn redis(port: u16, args: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The container engine as this machine runs it: podman with runc and cgroupfs (crun fails on
/// the hybrid cgroups here; podman's default rlimits exceed the hard limits).
pub const ENGINE: &str = "podman --runtime runc --cgroup-manager=cgroupfs";
pub const ENGINE_RUN_FLAGS: &str = "--ulimit nofile=20000:20000 --ulimit nproc=1024:1024";

pub fn podman() -> Command {
    let mut parts = ENGINE.split_whitespace();
    let mut c = Command::new(parts.next().unwrap());
    c.args(parts);
    c
}

/// Removes a container and an image when the test ends, pass or fail.
pub struct Cleanup {
    pub container: String,
    pub image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = podman()
            .args(["rm", "-f", "-t", "2", &self.container])
            .output();
        let _ = podman().args(["rmi", "-f", &self.image]).output();
    }
}

/// Starts `out/<app>/run.sh` detached, as a user of the output would.
pub fn start_lifted(app_dir: &Path, name: &str) -> Output {
    let out = Command::new("sh")
        .arg(app_dir.join("run.sh"))
        .env("ENGINE", ENGINE)
        .env(
            "ENGINE_RUN_FLAGS",
            format!("-d --rm=false {ENGINE_RUN_FLAGS}"),
        )
        .env("NAME", name)
        .output()
        .expect("run.sh");
    assert!(
        out.status.success(),
        "run.sh failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `start_lifted`, then the container answers on `port` within 30 s (its logs in the panic).
pub fn start_lifted_answering(app_dir: &Path, name: &str, port: u16) {
    start_lifted(app_dir, name);
    assert!(
        wait_for_port(port, Duration::from_secs(30)),
        "the lifted app {name} did not answer on port {port}:\n{}",
        container_logs(name)
    );
}

pub fn container_logs(name: &str) -> String {
    let out = podman().args(["logs", name]).output().expect("podman logs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A daemon started by a test: killed by pid file when the test ends.
pub struct Daemon {
    pub pid_file: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = std::fs::read_to_string(&self.pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "no pid in {}",
                self.pid_file.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A daemon that stays in the foreground (a script's accept loop), started with its output
/// discarded: killed and reaped when the test ends.
pub struct Foreground(std::process::Child);

impl Foreground {
    pub fn start(cmd: &mut Command) -> Foreground {
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        Foreground(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes the container and the image `out/<app>/build.json` names when the test ends.
pub fn cleanup_of(app_dir: &Path, container: &str) -> Cleanup {
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("build.json")).unwrap())
            .unwrap();
    Cleanup {
        container: container.to_string(),
        image: build["image"].as_str().unwrap_or_default().to_string(),
    }
}

/// A world-readable temporary directory: daemons drop privileges and must reach their files.
pub fn public_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("liftkit-test-")
        .tempdir()
        .unwrap();
    set_mode(dir.path(), 0o755);
    dir
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A daemon's command with the clean environment an init system gives, not the test's.
pub fn daemon_command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8");
    c
}

/// A blob of the OCI layout under `app_dir/oci`, by digest.
pub fn oci_blob(app_dir: &Path, digest: &str) -> PathBuf {
    app_dir
        .join("oci/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// The manifest of the layout's one image.
pub fn oci_manifest(app_dir: &Path) -> serde_json::Value {
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let index = json(app_dir.join("oci/index.json"));
    json(oci_blob(
        app_dir,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ))
}

/// The (single) layer of the image under `app_dir/oci`, opened as the tar archive it holds.
pub fn layer_archive(app_dir: &Path) -> tar::Archive<flate2::read::GzDecoder<std::fs::File>> {
    let manifest = oci_manifest(app_dir);
    let layer = oci_blob(app_dir, manifest["layers"][0]["digest"].as_str().unwrap());
    tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(layer).unwrap(),
    ))
}

/// Paths in the (single) layer of the OCI layout under `app_dir/oci`, as stored in the tar.
pub fn layer_paths(app_dir: &Path) -> Vec<String> {
    layer_archive(app_dir)
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

/// The one application directory a lift wrote under `out` (named after the app, with a port
/// suffix when the host runs two instances).
pub fn app_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("build.json").exists())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one app directory in {}: {dirs:?}",
        out.display()
    );
    dirs.into_iter().next().unwrap()
}

/// A real nginx the way a legacy host runs it (liftkit::bench::testbed::nginx): daemonized, its
/// own config, a clean environment, serving `dir/www`; config, pid and logs in `dir`.
pub fn start_nginx(dir: &Path, port: u16) -> Daemon {
    let running = liftkit::bench::testbed::nginx::start(dir, port).expect("nginx starts");
    keep_running(running, dir.join("nginx.pid"))
}

/// The five `*_temp_path` directives nginx writes request bodies and upstream answers under.
pub const NGINX_TEMP_PATHS: [(&str, &str); 5] = [
    ("client_body_temp_path", "body"),
    ("proxy_temp_path", "proxy"),
    ("fastcgi_temp_path", "fastcgi"),
    ("uwsgi_temp_path", "uwsgi"),
    ("scgi_temp_path", "scgi"),
];

/// nginx with its own temporary directories under `dir/tmp` (nginx makes the last component
/// at start, and dies when it cannot), as hosts set them to keep /var/lib small.
pub fn start_nginx_with_temp_paths(dir: &Path, port: u16) -> Daemon {
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let lines: String = NGINX_TEMP_PATHS
        .iter()
        .map(|(directive, sub)| format!("  {directive} {}/tmp/{sub};\n", dir.display()))
        .collect();
    start_nginx_with(dir, port, 1, &lines)
}

/// nginx as `start_nginx` starts it (the same configuration) with `workers` worker processes
/// and `http_extra` added to its `http` block; `dir/www/index.html` is written unless there.
pub fn start_nginx_with(dir: &Path, port: u16, workers: u32, http_extra: &str) -> Daemon {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    if !www.join("index.html").exists() {
        std::fs::write(www.join("index.html"), format!("<h1>on {port}</h1>\n")).unwrap();
    }
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n{http_extra}\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(daemon_command("/usr/sbin/nginx").arg("-c").arg(&conf));
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "nginx did not start"
    );
    Daemon {
        pid_file: dir.join("nginx.pid"),
    }
}

/// redis with its data in `dir/data` (liftkit::bench::testbed::redis), saving nothing on its own.
pub fn start_redis(dir: &Path, port: u16) -> Daemon {
    let running = liftkit::bench::testbed::redis::start(dir, port).expect("redis starts");
    keep_running(running, dir.join("redis.pid"))
}

/// The tests stop their daemons by pid file (a test may stop one early): the testbed's handle
/// must not stop it when dropped here.
fn keep_running(running: liftkit::bench::testbed::Running, pid_file: PathBuf) -> Daemon {
    std::mem::forget(running);
    Daemon { pid_file }
}

/// redis as people start it by hand: options only, no configuration file (`INFO server` then
/// reports `config_file:` empty), its data in `dir/data`, on loopback.
pub fn start_redis_with_options(dir: &Path, port: u16) -> Daemon {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    run_ok(
        daemon_command("/usr/bin/redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(&data)
            .args(["--daemonize", "yes", "--save", "", "--pidfile"])
            .arg(dir.join("redis.pid"))
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .current_dir("/"),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "redis did not start"
    );
    Daemon {
        pid_file: dir.join("redis.pid"),
    }
}

/// splitmix64: tiny, seedable, good enough to drive the fuzzers' mutations reproducibly (a
/// failure prints the seed to replay).
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
