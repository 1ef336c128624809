//! `liftkit bench footprint out/nginx out/redis`: each lifted host against the same app in a
//! minimal Debian VM (liftkit::bench::footprint).

use anyhow::{bail, Context, Result};
use liftkit::bench::footprint::{self, Options, Pair};
use liftkit::hostimage::{debian_vm, kernel};
use std::path::PathBuf;
use std::process::ExitCode;
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
    /// Smallest -m (MiB) the bisection for the least memory that still answers tries.
    #[arg(long, default_value_t = 48)]
    pub min_memory: u32,
    /// Largest -m (MiB) the bisection tries.
    #[arg(long, default_value_t = 512)]
    pub max_memory: u32,
    /// MiB between two -m values the bisection tells apart.
    #[arg(long, default_value_t = 8)]
    pub step: u32,
    /// Seconds one boot may take to answer.
    #[arg(long, default_value_t = 240)]
    pub timeout: u64,
    /// Debian mirror [default: the one apt uses here].
    #[arg(long)]
    pub mirror: Option<String>,
    /// Debian release the comparison VM is built from.
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    /// Where the Debian VMs are built and kept.
    #[arg(long, default_value = "/var/tmp/liftkit-bench-debian")]
    pub cache: PathBuf,
    /// Also measure each host on liftkit's own kernel: the directory `liftkit host-kernel -o`
    /// wrote (vmlinuz-<release> and lib/modules/<release>).
    #[arg(long, value_name = "DIR")]
    pub own_kernel: Option<PathBuf>,
    /// OCI runtime of the lifted hosts (crun or runc), as `host-image --runtime` takes it
    /// [default: crun if installed, else runc].
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Print the measurements as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
    let opts = Options {
        runs: args.runs,
        accel: args.accel.clone(),
        memory: args.memory,
        min_memory: args.min_memory,
        max_memory: args.max_memory,
        step: args.step,
        timeout: Duration::from_secs(args.timeout),
        suite: args.suite.clone(),
        cache: args.cache.clone(),
        own_kernel: args.own_kernel.as_deref().map(own_kernel).transpose()?,
        runtime: args.runtime.clone(),
    };
    let mut all = Vec::new();
    for dir in &args.app_dirs {
        all.push(footprint::measure(dir, &opts, &mirror)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_table(&all, &args);
    }
    Ok(ExitCode::SUCCESS)
}

/// The kernel `liftkit host-kernel -o DIR` wrote: DIR/vmlinuz-R with DIR/lib/modules/R.
fn own_kernel(dir: &std::path::Path) -> Result<kernel::Kernel> {
    let image = kernel::named_like(dir, "vmlinuz-").pop().with_context(|| {
        format!(
            "--own-kernel {}: no vmlinuz-* in it (build one with liftkit host-kernel -o {0})",
            dir.display()
        )
    })?;
    let release =
        image.file_name().unwrap_or_default().to_string_lossy()["vmlinuz-".len()..].to_string();
    Ok(kernel::locate(
        Some(&image),
        Some(&dir.join("lib/modules").join(&release)),
    )?)
}

fn print_table(all: &[Pair], args: &Args) {
    println!(
        "{:<7} {:<15} {:>8} {:>13} {:>14} {:>10}",
        "APP", "SYSTEM", "MIN -m", "USED (MiB)", "BOOT→ANSWER", "IMAGE (MB)"
    );
    let mib = |kb: Option<u64>| kb.map_or("-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    for p in all {
        let own = p.own_kernel.as_ref().map(|o| &o.liftkit);
        for s in [Some(&p.liftkit), own, Some(&p.debian)]
            .into_iter()
            .flatten()
        {
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
        let ratios = std::iter::once(("liftkit/debian", &p.ratios))
            .chain(p.own_kernel.as_ref().map(|o| ("own/debian", &o.ratios)));
        for (name, r) in ratios {
            println!(
                "{:<7} {:<15} {:>8.2} {:>13} {:>14.2} {:>10.3}",
                p.app,
                name,
                r.min_memory,
                r.used.map_or("-".to_string(), |r| format!("{r:.2}")),
                r.answer,
                r.image
            );
        }
    }
    if let Some(p) = all.first() {
        let kernels = std::iter::once((&p.kernel, p.kernel_floor_mib)).chain(
            p.own_kernel
                .as_ref()
                .map(|o| (&o.kernel, o.kernel_floor_mib)),
        );
        for (k, floor) in kernels {
            println!(
                "kernel {k}: loads at 16 MiB and decompresses into init_size: {floor:.1} MiB before init runs"
            );
        }
    }
    println!(
        "timed boots: -m {}, median of {}, accel {}; MIN -m bisected in {} MiB steps",
        args.memory, args.runs, args.accel, args.step
    );
}
