//! Boots lifted apps' host images under qemu (TCG: no KVM needed) and proves the app answers as
//! the original did, its data comes from the data disk, and the host powers off cleanly when the
//! ACPI power button is pressed.

use crate::common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// The Debian kernel the tests boot (installed, or fetched and unpacked once by the script).
fn test_kernel() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-kernel.sh");
    let out = run_ok(Command::new("bash").arg(script));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let kernel = PathBuf::from(words.next().expect("a kernel path"));
    let modules = PathBuf::from(words.next().expect("a modules dir"));
    (kernel, modules)
}

/// A booted host image: qemu as a child, its serial console in a file, its monitor on a socket.
struct Vm {
    child: Child,
    serial: PathBuf,
    monitor: PathBuf,
}

impl Vm {
    fn boot(app_dir: &Path, work: &Path, host_port: u16, guest_port: u16) -> Vm {
        let serial = work.join("serial.log");
        let monitor = work.join("monitor.sock");
        let child = Command::new("sh")
            .arg(app_dir.join("run-qemu.sh"))
            .env("ACCEL", "tcg")
            .env("PORTS", format!("{host_port}:{guest_port}"))
            .env(
                "QEMU_FLAGS",
                format!("-monitor unix:{},server,nowait", monitor.display()),
            )
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&serial).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run-qemu.sh");
        Vm {
            child,
            serial,
            monitor,
        }
    }

    fn serial(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// The last lines of the console, for failure messages.
    fn tail(&self) -> String {
        let log = self.serial();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Presses the ACPI power button through qemu's monitor and waits for qemu to exit.
    fn power_off(&mut self) -> bool {
        let mut mon = UnixStream::connect(&self.monitor).expect("qemu monitor socket");
        mon.write_all(b"system_powerdown\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    fn wait_for<T>(&mut self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "qemu exited ({status}) before {what}; serial console:\n{}",
                    self.tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {BOOT_TIMEOUT:?}; serial console:\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // run-qemu.sh execs qemu: this pid is qemu itself.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// (status, body) of a GET, or None while the guest is not answering (qemu's forward accepts the
/// connection before the guest listens, then closes it).
fn try_http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, resp[split + 4..].to_vec()))
}

fn try_redis(port: u16, args: &[&str]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn lift_with_host_image(pid: i32, out: &Path) -> PathBuf {
    let (kernel, modules) = test_kernel();
    let lift = run_ok(
        liftkit()
            .args([
                "lift",
                "--pid",
                &pid.to_string(),
                "--host-image",
                "--expose-loopback",
            ])
            .arg("--kernel")
            .arg(&kernel)
            .arg("--modules")
            .arg(&modules)
            .arg("-o")
            .arg(out),
    );
    let summary = String::from_utf8_lossy(&lift.stdout);
    assert!(
        summary.contains("host image"),
        "summary gives the host image size: {summary}"
    );
    let app_dir = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("run-qemu.sh").exists())
        .expect("an app directory with run-qemu.sh");
    let slug = app_dir.file_name().unwrap().to_string_lossy().into_owned();
    for suffix in ["kernel", "initrd.img", "cmdline"] {
        assert!(
            app_dir.join(format!("{slug}-{suffix}")).is_file(),
            "{slug}-{suffix} written"
        );
    }
    let yml = std::fs::read_to_string(app_dir.join("linuxkit.yml")).unwrap();
    liftkit::build::linuxkit::schema::parse(&yml)
        .expect("the generated linuxkit.yml passes the schema");
    app_dir
}

fn start_nginx(dir: &Path, port: u16) -> Daemon {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("index.html"),
        format!("<h1>legacy app on {port}, now in its own host</h1>\n"),
    )
    .unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n    index index.html;\n  }}\n}}\n",
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

#[test]
fn nginx_host_image_boots_answers_like_the_original_and_powers_off_cleanly() {
    let dir = public_tempdir();
    let port = free_port();
    let nginx = start_nginx(dir.path(), port);
    let original = http_get(port, "/");
    assert_eq!(original.0, 200);

    let app_dir = lift_with_host_image(nginx.pid(), &dir.path().join("out"));
    nginx.stop();
    let host_port = free_port();
    let mut vm = Vm::boot(&app_dir, dir.path(), host_port, port);
    let answer = vm.wait_for("an HTTP answer from the VM", || {
        try_http_get(host_port, "/")
    });
    assert_eq!(
        answer, original,
        "the lifted nginx in its host answers like the original"
    );
    assert_eq!(
        try_http_get(host_port, "/no-such-page").map(|r| r.0),
        Some(404)
    );

    assert!(
        vm.power_off(),
        "qemu exits after the power button; console:\n{}",
        vm.tail()
    );
    let log = vm.serial();
    assert!(
        log.contains("power button pressed: stopping services"),
        "init saw the ACPI button:\n{}",
        vm.tail()
    );
    assert!(
        log.contains("stopped (status 0)"),
        "nginx stopped gracefully:\n{}",
        vm.tail()
    );
    assert!(
        log.contains("clean shutdown: filesystems synced and unmounted"),
        "clean shutdown:\n{}",
        vm.tail()
    );
    assert!(
        log.contains("reboot: Power down"),
        "the kernel powered off:\n{}",
        vm.tail()
    );
}

#[test]
fn redis_host_image_serves_the_source_data_from_its_data_disk() {
    let dir = public_tempdir();
    let port = free_port();
    let redis_daemon = start_redis(dir.path(), port);
    assert!(redis(port, &["SET", "liftkit:host", "written-on-the-source"]).starts_with("+OK"));
    assert!(redis(port, &["SAVE"]).starts_with("+OK"));

    let app_dir = lift_with_host_image(redis_daemon.pid(), &dir.path().join("out"));
    let slug = app_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        app_dir.join(format!("{slug}-data.img")).is_file(),
        "a data disk for the volume"
    );
    let yml = std::fs::read_to_string(app_dir.join("linuxkit.yml")).unwrap();
    assert!(
        yml.contains("name: mount") && yml.contains("/var/lib/liftkit/"),
        "the yml mounts the data disk:\n{yml}"
    );
    redis_daemon.stop();

    let host_port = free_port();
    let mut vm = Vm::boot(&app_dir, dir.path(), host_port, port);
    let pong = vm.wait_for("a PONG from the VM", || {
        try_redis(host_port, &["PING"]).filter(|r| r.starts_with("+PONG"))
    });
    assert_eq!(pong, "+PONG\r\n");
    let value = try_redis(host_port, &["GET", "liftkit:host"]).unwrap_or_default();
    assert!(
        value.contains("written-on-the-source"),
        "the source's key comes from the data disk: {value:?}\n{}",
        vm.tail()
    );
    let log = vm.serial();
    assert!(
        log.contains("volumes on /dev/vda"),
        "volumes mounted from the disk:\n{}",
        vm.tail()
    );
    assert!(
        log.contains("sysctl: net.core.somaxconn"),
        "the source's sysctls applied onboot:\n{}",
        vm.tail()
    );

    assert!(
        vm.power_off(),
        "qemu exits after the power button; console:\n{}",
        vm.tail()
    );
    assert!(
        vm.serial()
            .contains("clean shutdown: filesystems synced and unmounted"),
        "clean shutdown:\n{}",
        vm.tail()
    );
}
