//! liftkit-init: PID 1 of the host images `liftkit host-image` builds. Statically linked, no shell
//! and no tools beside it: it loads the modules and mounts the read-only system image as the root
//! (stage 1), mounts the kernel filesystems, configures the network (DHCP unless the command line
//! gives an address), runs the onboot containers and the app with the OCI runtime, and powers
//! off cleanly on the power button.
//!
//! Multi-call: `liftkit-init sysctl FILE…` applies sysctl.d files (PID 1 applies the image's own);
//! `liftkit-init pid1 -- CMD…` (or the binary named `pid1`) is a lifted image's PID 1;
//! `liftkit-init populate SRC DST` fills a Kubernetes volume from liftkit's data image, and
//! `liftkit-init probe …` is compose.yaml's health check.

mod app_pid1;
mod blockdev;
mod cmdline;
mod config;
mod dhcp;
mod forward;
mod meminfo;
mod modules;
mod mounts;
mod net;
mod populate;
mod power;
mod probe;
mod supervise;
mod switchroot;
mod sys;
mod sysctl;

use std::path::Path;

pub const CONFIG: &str = "/etc/liftkit/init.conf";

/// Seconds since boot, so the console shows where boot time goes.
fn uptime() -> f64 {
    // SAFETY: timespec is plain data filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

pub fn log(msg: &str) {
    eprintln!("liftkit-init: [{:7.2}] {msg}", uptime());
}

pub fn warn(msg: &str) {
    eprintln!("liftkit-init: [{:7.2}] warning: {msg}", uptime());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("sysctl") => std::process::exit(sysctl::run(&args[2..])),
        Some("populate") => std::process::exit(populate::run(&args[2..])),
        Some("probe") => std::process::exit(probe::run(&args[2..])),
        _ => {}
    }
    if let Some(rest) = app_pid1::invoked(&args) {
        std::process::exit(app_pid1::run(rest));
    }
    if std::process::id() != 1 {
        eprintln!(
            "liftkit-init: runs as PID 1 of a host image; as a tool: liftkit-init sysctl FILE…, \
             liftkit-init populate SRC DST, liftkit-init probe tcp|http PORT [PATH]"
        );
        std::process::exit(2);
    }
    if !args.iter().any(|a| a == "--switched") {
        fatal(&switchroot::switch_to_system_image().to_string());
    }
    if let Err(e) = boot() {
        fatal(&e);
    }
}

/// Reads a file to its end in the background, only to leave it in the page cache.
fn read_ahead(path: String) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Read;
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut buf = vec![0u8; 1 << 20];
            while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
        }
    })
}

fn boot() -> Result<(), String> {
    let signals = supervise::signal_fd().map_err(|e| format!("signals: {e}"))?;
    // ctrl-alt-del becomes SIGINT to init, handled as a power-off request.
    let _ = sys::reboot(libc::RB_DISABLE_CAD);
    mounts::early().map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(CONFIG).map_err(|e| format!("{CONFIG}: {e}"))?;
    let conf = config::parse(&text)?;
    if let Some(name) = &conf.hostname {
        let _ = sys::sethostname(name);
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let boot = cmdline::parse(&cmdline);
    // While DHCP waits for the link and its server, the OCI runtime (a 9 MB Go binary the
    // squashfs root decompresses on first use: a second of TCG time) is read into the page
    // cache, so the app's start does not wait for it.
    let warm = read_ahead(conf.runtime.clone());
    let addr = match net::configure(&boot, conf.hostname.as_deref()) {
        Ok(n) => {
            log(&format!("network: {}", n.summary));
            n.addr
        }
        Err(e) => {
            warn(&format!("network: {e}"));
            None
        }
    };
    mounts::volumes(boot.data.as_deref(), !conf.volumes.is_empty()).map_err(|e| e.to_string())?;
    for v in &conf.volumes {
        let dir = Path::new(mounts::VOLUMES_DIR).join(&v.name);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let _ = sys::lchown(&dir, v.uid, v.gid);
            let seed = v.seed.as_deref().map(Path::new).filter(|s| s.is_dir());
            if let Some(seed) = seed {
                match populate::populate(seed, &dir) {
                    Ok(populate::Outcome::Filled(n)) => log(&format!(
                        "volume {}: new, {n} entries from the image",
                        v.name
                    )),
                    Ok(populate::Outcome::AlreadyThere) => {}
                    Err(e) => warn(&format!("volume {}: seeding from the image: {e}", v.name)),
                }
            }
        }
    }
    if !Path::new(&conf.runtime).exists() {
        return Err(format!("OCI runtime {} is not in the image", conf.runtime));
    }
    let _ = warm.join();
    if sysctl::apply_dir(sysctl::DIR) != 0 {
        warn("some kernel settings of the system image were not applied (lines above)");
    }
    supervise::onboot(&conf.runtime);
    if let Some(addr) = addr {
        for port in &conf.expose {
            forward::expose(addr, *port);
            log(&format!("exposing 127.0.0.1:{port} on {addr}:{port}"));
        }
    }
    for s in &conf.services {
        let bundle = Path::new(supervise::SERVICES_DIR).join(&s.name);
        mounts::overlay_root(&bundle, &s.name).map_err(|e| e.to_string())?;
    }
    supervise::Supervisor::new(conf.runtime.clone(), conf.services.clone(), signals).run()
}

/// Init must not exit (the kernel would panic): say why, then power off.
fn fatal(msg: &str) -> ! {
    eprintln!("liftkit-init: fatal: {msg}");
    sys::sync();
    std::thread::sleep(std::time::Duration::from_secs(1));
    power_off()
}

pub fn power_off() -> ! {
    sys::sync();
    let _ = sys::reboot(libc::RB_POWER_OFF);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
