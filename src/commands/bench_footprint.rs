//! `liftkit bench footprint out/nginx out/redis`: each lifted host against the same app in a
//! minimal Debian VM (debootstrap minbase, systemd, the app's package, the same Debian kernel),
//! both booted from a raw BIOS disk under qemu: the smallest `-m` at which each boots and
//! serves (bisected), the memory the guest uses after serving (MemTotal − MemAvailable, logged
//! at power-off), the time from starting qemu to the first answer (median, at the same `-m`),
//! and the disk image's size; with the ratios.

use anyhow::{bail, Context, Result};
use liftkit::hostimage::boot::{self, Ask, BootOptions, BootRun};
use liftkit::hostimage::debian_vm::{self, DebianApp, DebianVm};
use liftkit::hostimage::{self, kernel, Format};
use serde::Serialize;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lift the apps first, e.g.\n  liftkit lift --app nginx -o out\n  \
liftkit bench footprint out/nginx out/redis\n\
The Debian VMs are built once with debootstrap (root, network to the Debian archive) and kept in --cache."
)]
pub struct Args {
    /// Lifted apps' output directories (plan.yaml and oci/); their raw-bios host image is built
    /// with the Debian VM's kernel.
    #[arg(required = true)]
    pub app_dirs: Vec<PathBuf>,
    /// Boots per system for the boot time (median).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// qemu accelerator (tcg works without KVM).
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// MiB of the timed boots (the same for both systems).
    #[arg(long, default_value_t = 512)]
    pub memory: u32,
    /// Smallest and largest -m (MiB) the bisection tries, and its step.
    #[arg(long, default_value_t = 48)]
    pub min_memory: u32,
    #[arg(long, default_value_t = 512)]
    pub max_memory: u32,
    #[arg(long, default_value_t = 8)]
    pub step: u32,
    /// Seconds one boot may take to answer.
    #[arg(long, default_value_t = 240)]
    pub timeout: u64,
    /// Debian mirror [default: the one apt uses here].
    #[arg(long)]
    pub mirror: Option<String>,
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    /// Where the Debian VMs are built and kept.
    #[arg(long, default_value = "/var/tmp/liftkit-bench-debian")]
    pub cache: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct System {
    system: String,
    /// Smallest -m (MiB) at which it boots and serves.
    min_memory_mib: u32,
    /// MemTotal − MemAvailable after serving, at the timed boots' -m.
    used_kb: Option<u64>,
    boots: Vec<BootRun>,
    median_answer_ms: u128,
    image_bytes: u64,
}

#[derive(Debug, Serialize)]
struct Pair {
    app: String,
    kernel: String,
    /// What the kernel itself needs before any init runs: its preferred load address plus the
    /// memory it decompresses into (bzImage `init_size`).
    kernel_floor_mib: f64,
    liftkit: System,
    debian: System,
    ratio_min_memory: f64,
    ratio_used: Option<f64>,
    ratio_answer: f64,
    ratio_image: f64,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.runs == 0 || args.step == 0 || args.min_memory > args.max_memory {
        bail!("--runs and --step must be at least 1, --min-memory at most --max-memory");
    }
    let mirror = match &args.mirror {
        Some(m) => m.clone(),
        None => debian_vm::apt_mirror()
            .context("no Debian mirror in /etc/apt/sources*: give one with --mirror URL")?,
    };
    let mut all = Vec::new();
    for dir in &args.app_dirs {
        all.push(measure(dir, &args, &mirror)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_table(&all, &args);
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(dir: &Path, args: &Args, mirror: &str) -> Result<Pair> {
    let plan = liftkit::plan::load(&dir.join("plan.yaml"))
        .with_context(|| format!("{}: not a lifted app's output", dir.display()))?;
    let app = plan.apps.first().context("the plan holds no application")?;
    let debian = debian_vm::app_for(&app.analyzer).with_context(|| {
        format!(
            "no Debian package known for {} (analyzer {}): bench footprint knows nginx and redis",
            app.name, app.analyzer
        )
    })?;
    eprintln!(
        "{}: Debian VM ({} on {})",
        app.name,
        debian.packages.join(" "),
        args.suite
    );
    let vm = debian_vm::build(&debian, &args.cache, mirror, &args.suite)?;
    eprintln!("{}: liftkit raw-bios host with {}", app.name, vm.release);
    let built = hostimage::build(
        dir,
        &hostimage::Options {
            kernel: Some(vm.kernel.clone()),
            modules: Some(vm.modules.clone()),
            // The benchmark asks through a forwarded port: loopback-only listeners (redis bound to
            // 127.0.0.1 on the source) must be reachable on the guest address.
            expose_loopback: true,
            formats: vec![Format::RawBios],
            ..Default::default()
        },
    )?;
    let raw = built
        .written
        .iter()
        .find(|w| w.format == Format::RawBios)
        .context("no raw-bios image written")?
        .path
        .clone();
    let guest_port = app
        .image
        .ports
        .iter()
        .find_map(|p| p.split('/').next()?.parse::<u16>().ok())
        .context("the app listens on no TCP port to ask")?;
    let how = boot::ask_from(&app.probes)?;
    let work = std::env::temp_dir().join(format!("liftkit-bench-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    // Boots write to the data disk: they get a copy, the app's own stays as built.
    let data = match &built.data_disk {
        Some(d) => {
            let copy = work.join("data.img");
            std::fs::copy(d, &copy)?;
            copy.display().to_string()
        }
        None => "none".to_string(),
    };
    let liftkit = measure_system("liftkit", args, &work, &raw, |m, port, o| {
        let mut o = o.clone();
        o.env = vec![
            ("BOOT".into(), "raw-bios".into()),
            ("MEMORY".into(), m.to_string()),
            ("DATA_DISK".into(), data.clone()),
        ];
        boot::boot_once(dir, &how, port, guest_port, &o)
    })?;
    let debian_how = debian_probe(&debian, &how);
    let debian_sys = measure_system("debian", args, &work, &vm.disk, |m, port, o| {
        boot::boot_with(&debian_how, port, o, |monitor| {
            debian_qemu(&vm, &debian, m, port, monitor, &args.accel)
        })
    })?;
    let _ = std::fs::remove_dir_all(&work);
    let floor = kernel_floor(&vm);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Ok(Pair {
        app: app.name.clone(),
        kernel: vm.release.clone(),
        kernel_floor_mib: floor,
        ratio_min_memory: ratio(
            liftkit.min_memory_mib.into(),
            debian_sys.min_memory_mib.into(),
        ),
        ratio_used: liftkit
            .used_kb
            .zip(debian_sys.used_kb)
            .map(|(a, b)| ratio(a as f64, b as f64)),
        ratio_answer: ratio(
            liftkit.median_answer_ms as f64,
            debian_sys.median_answer_ms as f64,
        ),
        ratio_image: ratio(liftkit.image_bytes as f64, debian_sys.image_bytes as f64),
        liftkit,
        debian: debian_sys,
    })
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
    c.args(["-accel", accel, "-m", &memory.to_string(), "-smp", "1"])
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
    args: &Args,
    work: &Path,
    image: &Path,
    boot_at: impl Fn(u32, u16, &BootOptions) -> Result<BootRun, boot::BootError>,
) -> Result<System> {
    let opts = BootOptions {
        accel: args.accel.clone(),
        timeout: Duration::from_secs(args.timeout),
        work: work.to_path_buf(),
        env: Vec::new(),
    };
    let port = || -> Result<u16> { Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
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
    let mut times: Vec<u128> = boots.iter().map(|b| b.answer_ms).collect();
    times.sort_unstable();
    let median = times[times.len() / 2];
    // A boot that does not serve at a small -m fails fast (panic=-1; GRUB reboots) or hangs
    // thrashing: it is given up at three times the time it takes with room.
    let bisect = BootOptions {
        timeout: Duration::from_millis((median as u64 * 3).max(60_000)).min(opts.timeout),
        ..opts.clone()
    };
    let serves = |m: u32| -> Result<bool> {
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
    let mut used: Vec<u64> = boots.iter().filter_map(|b| b.used_kb).collect();
    used.sort_unstable();
    Ok(System {
        system: name.to_string(),
        min_memory_mib: good,
        used_kb: used.get(used.len() / 2).copied(),
        median_answer_ms: median,
        boots,
        // The blocks the disk image takes: sparse free space is not data.
        image_bytes: std::fs::metadata(image).map_or(0, |m| {
            use std::os::unix::fs::MetadataExt;
            m.blocks() * 512
        }),
    })
}

fn kernel_floor(vm: &DebianVm) -> f64 {
    kernel::load_floor(&vm.kernel).map_or(f64::NAN, |b| b as f64 / (1u64 << 20) as f64)
}

fn print_table(all: &[Pair], args: &Args) {
    println!(
        "{:<7} {:<15} {:>8} {:>13} {:>14} {:>10}",
        "APP", "SYSTEM", "MIN -m", "USED (MiB)", "BOOT→ANSWER", "IMAGE (MB)"
    );
    let mib = |kb: Option<u64>| kb.map_or("-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    for p in all {
        for s in [&p.liftkit, &p.debian] {
            println!(
                "{:<7} {:<15} {:>6}Mi {:>13} {:>13.1}s {:>10.1}",
                p.app,
                s.system,
                s.min_memory_mib,
                mib(s.used_kb),
                s.median_answer_ms as f64 / 1000.0,
                s.image_bytes as f64 / 1e6
            );
        }
        println!(
            "{:<7} {:<15} {:>8.2} {:>13} {:>14.2} {:>10.3}",
            p.app,
            "liftkit/debian",
            p.ratio_min_memory,
            p.ratio_used.map_or("-".to_string(), |r| format!("{r:.2}")),
            p.ratio_answer,
            p.ratio_image
        );
    }
    if let Some(p) = all.first() {
        println!(
            "kernel {}: loads at 16 MiB and decompresses into init_size: {:.1} MiB before init runs",
            p.kernel, p.kernel_floor_mib
        );
    }
    println!(
        "timed boots: -m {}, median of {}, accel {}; MIN -m bisected in {} MiB steps",
        args.memory, args.runs, args.accel, args.step
    );
}
