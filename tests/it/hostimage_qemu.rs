//! Boots lifted apps' host images under qemu (TCG: no KVM needed), in the formats hypervisors
//! import, and proves: each format boots on its firmware (the ISO under SeaBIOS and OVMF, the
//! raw EFI disk under OVMF, the qcow2 under SeaBIOS), takes its address from qemu's DHCP server
//! (no `liftkit.ip=`), serves the lifted app's answer on a forwarded port and powers off cleanly
//! on the ACPI button; two builds of the same inputs give the same bytes in every format; the
//! redis host's data lives on its data disk, across a reboot, whatever it booted from.
//!
//! Boots are the expensive part (tens of seconds each under TCG): each one carries every
//! assertion it can, and the nginx host is built once for all of its formats.

use crate::common;

use common::*;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
const ALL_FORMATS: &str = "kernel+initrd,iso,raw-bios,raw-efi,qcow2,vmdk";

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
    what: String,
}

impl Vm {
    /// Boots `app_dir`'s run-qemu.sh with `env` (BOOT, FIRMWARE, MEMORY, APPEND…).
    fn boot(app_dir: &Path, work: &Path, ports: (u16, u16), env: &[(&str, &str)]) -> Vm {
        let what: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let tag = what.join("_").replace(['/', ' ', '='], "-");
        let serial = work.join(format!("serial-{tag}.log"));
        let monitor = work.join(format!("monitor-{tag}.sock"));
        let _ = std::fs::remove_file(&monitor);
        let mut cmd = Command::new("sh");
        cmd.arg(app_dir.join("run-qemu.sh"))
            .env("ACCEL", "tcg")
            .env("PORTS", format!("{}:{}", ports.0, ports.1))
            .env(
                "QEMU_FLAGS",
                format!("-monitor unix:{},server,nowait", monitor.display()),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&serial).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run-qemu.sh");
        Vm {
            child,
            serial,
            monitor,
            what: what.join(" "),
        }
    }

    fn serial(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// The last lines of the console, for failure messages.
    fn tail(&self) -> String {
        let log = self.serial();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "[{}]\n{}",
            self.what,
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    fn log_has(&self, text: &str) -> bool {
        self.serial().contains(text)
    }

    /// Presses the ACPI power button through qemu's monitor and waits for qemu to exit; then
    /// the console must show the clean shutdown.
    fn power_off(mut self) -> String {
        let mut mon = UnixStream::connect(&self.monitor).expect("qemu monitor socket");
        mon.write_all(b"system_powerdown\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = status.success();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            exited,
            "qemu exits after the power button:\n{}",
            self.tail()
        );
        let log = self.serial();
        for line in [
            "power button pressed: stopping services",
            "clean shutdown: filesystems synced and unmounted",
            "reboot: Power down",
        ] {
            assert!(
                log.contains(line),
                "{line:?} on the console:\n{}",
                self.tail()
            );
        }
        log
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

    fn wait_for_log(&mut self, text: &str) {
        let serial = self.serial.clone();
        self.wait_for(&format!("{text:?} on the console"), || {
            String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default())
                .contains(text)
                .then_some(())
        });
    }

    /// The address the host took from qemu's DHCP server, as init logged it.
    fn assert_dhcp(&self) {
        let log = self.serial();
        let line = log
            .lines()
            .find(|l| l.contains("liftkit-init") && l.contains("network: eth0"))
            .unwrap_or_else(|| panic!("a network line:\n{}", self.tail()));
        assert!(
            line.contains(
                "eth0 10.0.2.15/24 via 10.0.2.2, lease 86400s from 10.0.2.2, dns 10.0.2.3 (DHCP)"
            ),
            "the lease qemu's DHCP server gives: {line}"
        );
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

fn kernel_args() -> Vec<String> {
    let (kernel, modules) = test_kernel();
    vec![
        "--kernel".into(),
        kernel.display().to_string(),
        "--modules".into(),
        modules.display().to_string(),
    ]
}

/// crun for the host (installed, or Debian's package unpacked once by the script, never installed:
/// podman would make it its default runtime, which fails on this kind of machine).
fn test_crun() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-crun.sh");
    let out = run_ok(Command::new("bash").arg(script));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Lifts `pid` with a host image in `formats`, `extra` arguments after the kernel's.
fn lift_with_host_image(pid: i32, out: &Path, formats: &str, extra: &[String]) -> PathBuf {
    let lift = run_ok(
        liftkit()
            .args([
                "lift",
                "--pid",
                &pid.to_string(),
                "--host-image",
                "--expose-loopback",
                "--format",
                formats,
            ])
            .args(kernel_args())
            .args(extra)
            .arg("-o")
            .arg(out),
    );
    let summary = String::from_utf8_lossy(&lift.stdout);
    assert!(
        summary.contains("host image"),
        "summary gives the host image: {summary}"
    );
    if let Some(i) = extra.iter().position(|a| a == "--runtime") {
        let wanted = format!("; runtime {}\n", extra[i + 1]);
        assert!(
            summary.contains(&wanted),
            "the host runs {wanted}: {summary}"
        );
    }
    let app_dir = app_dir(out);
    let yml = std::fs::read_to_string(app_dir.join("linuxkit.yml")).unwrap();
    liftkit::build::linuxkit::schema::parse(&yml)
        .expect("the generated linuxkit.yml passes the schema");
    app_dir
}

/// The files of each format and their digest (kernel+initrd: its three files together).
fn digests(app_dir: &Path) -> Vec<(String, String)> {
    let slug = app_dir.file_name().unwrap().to_string_lossy().into_owned();
    let formats: [(&str, Vec<String>); 6] = [
        (
            "kernel+initrd",
            vec![
                format!("{slug}-kernel"),
                format!("{slug}-initrd.img"),
                format!("{slug}-cmdline"),
            ],
        ),
        ("iso", vec![format!("{slug}.iso")]),
        ("raw-bios", vec![format!("{slug}-bios.img")]),
        ("raw-efi", vec![format!("{slug}-efi.img")]),
        ("qcow2", vec![format!("{slug}.qcow2")]),
        ("vmdk", vec![format!("{slug}.vmdk")]),
    ];
    formats
        .iter()
        .map(|(name, files)| {
            let mut h = Sha256::new();
            for f in files {
                let p = app_dir.join(f);
                h.update(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
            }
            (name.to_string(), hex::encode(h.finalize()))
        })
        .collect()
}

/// The standard tools read each format back: qemu-img (qcow2, vmdk), sfdisk (the partition
/// tables), xorriso (the ISO's El Torito boot entries).
fn formats_are_valid(app_dir: &Path, slug: &str) {
    let info = |file: &str| {
        let out = run_ok(
            Command::new("qemu-img")
                .args(["info", "--output=json"])
                .arg(app_dir.join(file)),
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(info(&format!("{slug}.qcow2"))["format"], "qcow2");
    let vmdk = info(&format!("{slug}.vmdk"));
    assert_eq!(vmdk["format"], "vmdk");
    assert_eq!(
        vmdk["format-specific"]["data"]["create-type"], "streamOptimized",
        "{vmdk}"
    );
    run_ok(
        Command::new("qemu-img")
            .arg("check")
            .arg(app_dir.join(format!("{slug}.qcow2"))),
    );
    for (file, label, parts) in [
        (format!("{slug}-bios.img"), "dos", 2),
        (format!("{slug}-efi.img"), "gpt", 3),
    ] {
        let out = run_ok(
            Command::new("sfdisk")
                .arg("--json")
                .arg(app_dir.join(&file)),
        );
        let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(t["partitiontable"]["label"], label, "{file}: {t}");
        assert_eq!(
            t["partitiontable"]["partitions"].as_array().unwrap().len(),
            parts,
            "{file}: {t}"
        );
    }
    let out = run_ok(
        Command::new("xorriso")
            .arg("-indev")
            .arg(app_dir.join(format!("{slug}.iso")))
            .args(["-report_el_torito", "plain"]),
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("BIOS") && report.contains("UEFI"),
        "El Torito entries for BIOS and EFI:\n{report}"
    );
}

#[test]
fn nginx_host_boots_in_every_format_from_dhcp_and_rebuilds_to_the_same_bytes() {
    let dir = public_tempdir();
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(
        dir.path().join("www/index.html"),
        format!("<h1>legacy app on {port}, now in its own host</h1>\n"),
    )
    .unwrap();
    let nginx = start_nginx(dir.path(), port);
    let original = http_get(port, "/");
    assert_eq!(original.0, 200);

    let app_dir = lift_with_host_image(nginx.pid(), &dir.path().join("out"), ALL_FORMATS, &[]);
    nginx.stop();
    let slug = app_dir.file_name().unwrap().to_string_lossy().into_owned();
    let cmdline = std::fs::read_to_string(app_dir.join(format!("{slug}-cmdline"))).unwrap();
    assert!(
        !cmdline.contains("liftkit.ip="),
        "no static address: DHCP ({cmdline})"
    );
    formats_are_valid(&app_dir, &slug);

    // The same inputs again: the same bytes, format by format.
    let first = digests(&app_dir);
    let again = run_ok(
        liftkit()
            .args([
                "host-image",
                "--expose-loopback",
                "--json",
                "--format",
                ALL_FORMATS,
            ])
            .args(kernel_args())
            .arg(&app_dir),
    );
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let second = digests(&app_dir);
    for ((format, a), (_, b)) in first.iter().zip(&second) {
        assert_eq!(a, b, "{format}: two builds of the same inputs differ");
        let reported = json["written"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["format"] == *format)
            .unwrap_or_else(|| panic!("{format} in --json: {json}"));
        assert_eq!(reported["sha256"], *a, "{format}: --json gives its sha256");
    }

    // The last boot has no data disk: the volume the trial made of nginx's own directory (its
    // pid file is there, beside nginx.conf) is a tmpfs, seeded with what the image has there.
    let boots: [(&str, &str, &str, &str, &str); 4] = [
        ("iso", "bios", "128", "/dev/loop0", ""),
        ("iso", "efi", "512", "/dev/loop0", ""),
        ("raw-efi", "efi", "512", "/dev/vda3", ""),
        ("qcow2", "bios", "128", "/dev/vda3", "none"),
    ];
    for (boot, firmware, memory, system, data_disk) in boots {
        let host_port = free_port();
        let mut env = vec![("BOOT", boot), ("FIRMWARE", firmware), ("MEMORY", memory)];
        if !data_disk.is_empty() {
            env.push(("DATA_DISK", data_disk));
        }
        let mut vm = Vm::boot(&app_dir, dir.path(), (host_port, port), &env);
        let answer = vm.wait_for("an HTTP answer from the VM", || {
            try_http_get(host_port, "/")
        });
        assert_eq!(
            answer, original,
            "{boot} on {firmware}: the lifted nginx answers like the original"
        );
        assert_eq!(
            try_http_get(host_port, "/no-such-page").map(|r| r.0),
            Some(404)
        );
        vm.assert_dhcp();
        if data_disk == "none" {
            assert!(
                vm.log_has("entries from the image"),
                "{boot}: a new tmpfs volume holds the image's files:\n{}",
                vm.tail()
            );
        }
        assert!(
            vm.log_has(&format!("system image {system} mounted read-only")),
            "{boot}: the system image from {system}:\n{}",
            vm.tail()
        );
        let log = vm.power_off();
        assert!(
            log.contains("stopped (status 0)"),
            "nginx stopped gracefully"
        );
        assert!(
            log.contains("memory: used "),
            "init logs the memory it used"
        );
    }
}

#[test]
fn redis_host_keeps_its_data_on_the_data_disk_across_a_reboot() {
    let dir = public_tempdir();
    let port = free_port();
    let redis_daemon = start_redis(dir.path(), port);
    assert!(redis(port, &["SET", "liftkit:host", "written-on-the-source"]).starts_with("+OK"));
    assert!(redis(port, &["SAVE"]).starts_with("+OK"));

    // This host runs its container with crun (the other test's with runc): the same init drives
    // both runtimes through start, restart and power-off.
    let crun = test_crun();
    let app_dir = lift_with_host_image(
        redis_daemon.pid(),
        &dir.path().join("out"),
        "kernel+initrd,raw-bios",
        &["--runtime".to_string(), crun.clone()],
    );

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

    // First boot, from kernel+initrd, renewing its DHCP lease a few seconds in.
    let host_port = free_port();
    let mut vm = Vm::boot(
        &app_dir,
        dir.path(),
        (host_port, port),
        &[
            ("BOOT", "kernel+initrd"),
            ("APPEND", "liftkit.dhcp.renew=3"),
        ],
    );
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
    assert!(
        try_redis(host_port, &["SET", "liftkit:vm", "written-in-the-vm"])
            .is_some_and(|r| r.starts_with("+OK"))
    );
    assert!(try_redis(host_port, &["SAVE"]).is_some_and(|r| r.starts_with("+OK")));
    vm.assert_dhcp();
    vm.wait_for_log("dhcp: eth0 lease renewed 10.0.2.15");
    for line in [
        "volumes on /dev/vda",
        "sysctl: net.core.somaxconn",
        "system image /dev/loop0 mounted read-only",
    ] {
        assert!(vm.log_has(line), "{line:?}:\n{}", vm.tail());
    }
    vm.power_off();

    // Second boot, from the raw BIOS disk: the data disk is the second one now.
    let host_port = free_port();
    let mut vm = Vm::boot(
        &app_dir,
        dir.path(),
        (host_port, port),
        &[("BOOT", "raw-bios"), ("MEMORY", "128")],
    );
    let value = vm.wait_for("the key written in the first boot", || {
        try_redis(host_port, &["GET", "liftkit:vm"]).filter(|r| !r.starts_with("-LOADING"))
    });
    assert!(
        value.contains("written-in-the-vm"),
        "the first boot's write survived the reboot: {value:?}\n{}",
        vm.tail()
    );
    assert!(
        vm.log_has("volumes on /dev/vdb") && vm.log_has("system image /dev/vda2 mounted"),
        "data disk found by its label, system from the boot disk:\n{}",
        vm.tail()
    );
    vm.assert_dhcp();
    vm.power_off();
}
