//! `liftkit bench footprint`: each lifted host against the same app in a minimal Debian VM
//! (debootstrap minbase, systemd, the app's package, the same Debian kernel), both booted from a
//! raw BIOS disk under qemu: the smallest `-m` at which each boots and serves (bisected), the
//! memory the guest uses after serving (MemTotal − MemAvailable, logged at power-off), the time
//! from starting qemu to the first answer (median, at the same `-m`), and the disk image's size;
//! with the ratios.

use super::{ratio, BenchError};
use crate::hostimage::boot::{self, Ask, BootOptions, BootRun};
use crate::hostimage::debian_vm::{self, DebianApp, DebianVm};
use crate::hostimage::{self, kernel, Format};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Options {
    /// Boots per system for the boot time (median).
    pub runs: usize,
    pub accel: String,
    /// MiB of the timed boots (the same for both systems).
    pub memory: u32,
    /// Smallest and largest -m (MiB) the bisection tries, and its step.
    pub min_memory: u32,
    pub max_memory: u32,
    pub step: u32,
    /// How long one boot may take to answer.
    pub timeout: Duration,
    pub suite: String,
    /// Where the Debian VMs are built and kept.
    pub cache: PathBuf,
    /// A kernel of liftkit's own (`liftkit host-kernel`): the lifted host is measured with it
    /// too, beside the one with the Debian VM's kernel.
    pub own_kernel: Option<kernel::Kernel>,
    /// The lifted hosts' OCI runtime; None: host-image's default.
    pub runtime: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct System {
    pub system: String,
    /// Smallest -m (MiB) at which it boots and serves.
    pub min_memory_mib: u32,
    /// MemTotal − MemAvailable after serving, at the timed boots' -m.
    pub used_kb: Option<u64>,
    pub boots: Vec<BootRun>,
    pub median_answer_ms: u128,
    pub image_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Pair {
    pub app: String,
    pub kernel: String,
    /// What the kernel itself needs before any init runs: its preferred load address plus the
    /// memory it decompresses into (bzImage `init_size`).
    pub kernel_floor_mib: f64,
    pub liftkit: System,
    pub debian: System,
    /// liftkit / Debian, both on the Debian kernel.
    pub ratios: Ratios,
    pub own_kernel: Option<OwnKernel>,
}

/// A liftkit system's figures over the Debian VM's.
#[derive(Debug, Serialize)]
pub struct Ratios {
    pub min_memory: f64,
    pub used: Option<f64>,
    pub answer: f64,
    pub image: f64,
}

impl Ratios {
    fn of(a: &System, b: &System) -> Ratios {
        Ratios {
            min_memory: ratio(a.min_memory_mib.into(), b.min_memory_mib.into()),
            used: a
                .used_kb
                .zip(b.used_kb)
                .map(|(x, y)| ratio(x as f64, y as f64)),
            answer: ratio(a.median_answer_ms as f64, b.median_answer_ms as f64),
            image: ratio(a.image_bytes as f64, b.image_bytes as f64),
        }
    }
}

/// The lifted host on liftkit's own kernel, against the same Debian VM.
#[derive(Debug, Serialize)]
pub struct OwnKernel {
    pub kernel: String,
    pub kernel_floor_mib: f64,
    pub liftkit: System,
    pub ratios: Ratios,
}

pub fn measure(dir: &Path, args: &Options, mirror: &str) -> Result<Pair, BenchError> {
    let app = super::lifted_app(dir)?;
    let debian = debian_vm::app_for(&app.analyzer).ok_or_else(|| {
        BenchError::Failed(format!(
            "no Debian package known for {} (analyzer {}): bench footprint knows nginx and redis",
            app.name, app.analyzer
        ))
    })?;
    eprintln!(
        "{}: Debian VM ({} on {})",
        app.name,
        debian.packages.join(" "),
        args.suite
    );
    let vm = debian_vm::build(&debian, &args.cache, mirror, &args.suite)
        .map_err(|e| BenchError::Failed(format!("Debian VM: {e}")))?;
    eprintln!("{}: liftkit raw-bios host with {}", app.name, vm.release);
    let debian_kernel = kernel::Kernel {
        image: vm.kernel.clone(),
        modules_dir: vm.modules.clone(),
        release: vm.release.clone(),
    };
    let work = super::workdir("footprint")?;
    let liftkit = measure_liftkit("liftkit", dir, &app, &debian_kernel, args, &work)?;
    let own = match &args.own_kernel {
        Some(k) => {
            eprintln!(
                "{}: liftkit raw-bios host with its own kernel {}",
                app.name, k.release
            );
            Some((
                k,
                measure_liftkit("liftkit-own", dir, &app, k, args, &work)?,
            ))
        }
        None => None,
    };
    let debian_how = debian_probe(&debian, &boot::ask_from(&app.probes)?);
    let debian_sys = measure_system("debian", args, &work, &vm.disk, |m, port, o| {
        boot::boot_with(&debian_how, port, o, |monitor| {
            debian_qemu(&vm, &debian, m, port, monitor, &args.accel)
        })
    })?;
    Ok(Pair {
        app: app.name.clone(),
        kernel: vm.release.clone(),
        kernel_floor_mib: floor_mib(&vm.kernel),
        ratios: Ratios::of(&liftkit, &debian_sys),
        own_kernel: own.map(|(k, sys)| OwnKernel {
            kernel: k.release.clone(),
            kernel_floor_mib: floor_mib(&k.image),
            ratios: Ratios::of(&sys, &debian_sys),
            liftkit: sys,
        }),
        liftkit,
        debian: debian_sys,
    })
}

/// Builds the app's raw-bios host with `k` and measures it.
fn measure_liftkit(
    name: &str,
    app_dir: &Path,
    app: &crate::plan::AppPlan,
    k: &kernel::Kernel,
    args: &Options,
    work: &Path,
) -> Result<System, BenchError> {
    // host-image writes into the directory it is given: each kernel's host is built in a copy,
    // so the deliverable keeps the images it had before the benchmark.
    let dir = &copy_app(app_dir, &work.join(name))?;
    let built = hostimage::build(
        dir,
        &hostimage::Options {
            kernel: Some(k.image.clone()),
            modules: Some(k.modules_dir.clone()),
            // The benchmark asks through a forwarded port: loopback-only listeners (redis bound to
            // 127.0.0.1 on the source) must be reachable on the guest address.
            expose_loopback: true,
            formats: vec![Format::RawBios],
            runtime: args.runtime.clone(),
            ..Default::default()
        },
    )?;
    let raw = built
        .written
        .iter()
        .find(|w| w.format == Format::RawBios)
        .ok_or_else(|| BenchError::Failed("no raw-bios image written".to_string()))?
        .path
        .clone();
    let guest_port = super::first_tcp_port(app)?;
    let how = boot::ask_from(&app.probes)?;
    // Boots write to the data disk: they get a copy, the app's own stays as built.
    let data = match &built.data_disk {
        Some(d) => {
            let copy = work.join(format!("{name}-data.img"));
            std::fs::copy(d, &copy).map_err(super::io(&copy))?;
            copy.display().to_string()
        }
        None => "none".to_string(),
    };
    measure_system(name, args, work, &raw, |m, port, o| {
        let mut o = o.clone();
        o.env = vec![
            ("BOOT".into(), "raw-bios".into()),
            ("MEMORY".into(), m.to_string()),
            ("DATA_DISK".into(), data.clone()),
        ];
        boot::boot_once(dir, &how, port, guest_port, &o)
    })
}

/// A copy of the lifted app's directory at `dest` (coreutils' cp: owners, modes, links and
/// sparse files kept; blocks shared where the file system can).
fn copy_app(app_dir: &Path, dest: &Path) -> Result<PathBuf, BenchError> {
    let _ = std::fs::remove_dir_all(dest);
    let out = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(app_dir)
        .arg(dest)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| BenchError::Failed(format!("cannot run cp: {e}")))?;
    if !out.status.success() {
        return Err(BenchError::Failed(format!(
            "cannot copy {} to {}: {}",
            app_dir.display(),
            dest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(dest.to_path_buf())
}

/// The Debian VM is asked what the lifted app is asked, on the port its package listens on;
/// an HTTP probe's path becomes `/` (the package's default site).
fn debian_probe(_app: &DebianApp, how: &Ask) -> Ask {
    match how {
        Ask::Http(_) => Ask::Http("/".to_string()),
        other => other.clone(),
    }
}

fn debian_qemu(
    vm: &DebianVm,
    app: &DebianApp,
    memory: u32,
    host_port: u16,
    monitor: &Path,
    accel: &str,
) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    // The machine run-qemu.sh gives the liftkit host, so both boot on the same hardware.
    c.args(["-machine", "q35", "-accel", accel])
        .args(["-m", &memory.to_string(), "-smp", "1"])
        .args(["-nographic", "-no-reboot"])
        .arg("-netdev")
        .arg(format!(
            "user,id=net0,hostfwd=tcp:127.0.0.1:{host_port}-:{}",
            app.port
        ))
        .args(["-device", "virtio-net-pci,netdev=net0"])
        .arg("-drive")
        .arg(format!(
            "file={},if=none,id=boot,format=raw,snapshot=on",
            vm.disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=boot,bootindex=0"])
        .arg("-monitor")
        .arg(format!("unix:{},server,nowait", monitor.display()));
    c
}

/// Times `runs` boots at `--memory`, then bisects the smallest -m that boots and serves.
fn measure_system(
    name: &str,
    args: &Options,
    work: &Path,
    image: &Path,
    boot_at: impl Fn(u32, u16, &BootOptions) -> Result<BootRun, boot::BootError>,
) -> Result<System, BenchError> {
    let opts = BootOptions {
        accel: args.accel.clone(),
        timeout: args.timeout,
        work: work.to_path_buf(),
        env: Vec::new(),
    };
    let port = || -> Result<u16, BenchError> { Ok(super::testbed::free_port()) };
    let mut boots = Vec::new();
    for i in 0..args.runs {
        let run = boot_at(args.memory, port()?, &opts)?;
        eprintln!(
            "  {name}: boot {}/{} at -m {}: answered after {:.1} s, used {} kB",
            i + 1,
            args.runs,
            args.memory,
            run.answer_ms as f64 / 1000.0,
            run.used_kb.map_or("?".to_string(), |k| k.to_string())
        );
        boots.push(run);
    }
    let times: Vec<u128> = boots.iter().map(|b| b.answer_ms).collect();
    let median = super::median(&times);
    // A boot that does not serve at a small -m fails fast (panic=-1; GRUB reboots) or hangs
    // thrashing: it is given up at three times the time it takes with room.
    let bisect = BootOptions {
        timeout: Duration::from_millis((median as u64 * 3).max(60_000)).min(opts.timeout),
        ..opts.clone()
    };
    let serves = |m: u32| -> Result<bool, BenchError> {
        let ok = boot_at(m, port()?, &bisect).is_ok();
        eprintln!(
            "  {name}: -m {m}: {}",
            if ok { "serves" } else { "does not serve" }
        );
        Ok(ok)
    };
    // Invariant: `good` serves; `bad` does not (or is below the range).
    let (mut bad, mut good) = (args.min_memory.saturating_sub(args.step), args.max_memory);
    if serves(args.min_memory)? {
        good = args.min_memory;
    } else {
        bad = args.min_memory;
    }
    while good - bad > args.step {
        let mid = bad + ((good - bad) / 2 / args.step).max(1) * args.step;
        if serves(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    let used: Vec<u64> = boots.iter().filter_map(|b| b.used_kb).collect();
    Ok(System {
        system: name.to_string(),
        min_memory_mib: good,
        used_kb: (!used.is_empty()).then(|| super::median(&used)),
        median_answer_ms: median,
        boots,
        // The blocks the disk image takes: sparse free space is not data.
        image_bytes: std::fs::metadata(image).map_or(0, |m| {
            use std::os::unix::fs::MetadataExt;
            m.blocks() * 512
        }),
    })
}

fn floor_mib(image: &Path) -> f64 {
    kernel::load_floor(image).map_or(f64::NAN, |b| b as f64 / (1u64 << 20) as f64)
}
