//! `liftkit bench footprint out/nginx out/redis`: each lifted host against the same app in a
//! minimal Debian VM (liftkit::bench::footprint).

use anyhow::{bail, Context, Result};
use liftkit::bench::footprint::{self, Options, Pair};
use liftkit::hostimage::debian_vm;
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
