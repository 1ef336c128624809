//! `liftkit bench boot out/<app>/…`: host image size and boot-to-answer time
//! (liftkit::bench::boot).

use anyhow::Result;
use liftkit::bench::boot::{self, Options};
use liftkit::hostimage::Format;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Build the host images first, e.g.\n  liftkit lift --app nginx -o out --host-image\n  liftkit bench boot out/nginx --runs 3\n\
A disk, at the memory a small VM gets:\n  liftkit host-image out/nginx --format raw-bios\n  \
liftkit bench boot out/nginx --boot raw-bios --memory 64 --runs 5"
)]
pub struct Args {
    /// Lifted apps' output directories holding a host image (liftkit host-image).
    #[arg(required = true)]
    pub app_dirs: Vec<PathBuf>,
    /// Boots per app; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// qemu accelerator (tcg works without KVM).
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Seconds to wait for the first answer of one boot.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The format to boot (built beforehand by `liftkit host-image --format`).
    #[arg(long, value_name = "FORMAT", default_value = "kernel+initrd", value_parser = super::host_image::parse_format)]
    pub boot: Format,
    /// MiB of guest memory [default: run-qemu.sh's, 512].
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u32>,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options {
        runs: args.runs,
        accel: args.accel.clone(),
        timeout: Duration::from_secs(args.timeout),
        format: args.boot,
        memory: args.memory,
    };
    let mut all = Vec::new();
    for dir in &args.app_dirs {
        all.push(boot::measure(dir, &opts)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mb = |b: Option<u64>| b.map_or("-".to_string(), |b| format!("{:.1}MB", b as f64 / 1e6));
    println!(
        "{:<16} {:<14} {:>9} {:>9} {:>9} {:>8}  {:<26} {:>8}",
        "APP", "BOOT", "KERNEL", "INITRD", "TOTAL", "OF 35MB", "BOOT→ANSWER (s)", "MEDIAN"
    );
    for f in &all {
        let times: Vec<String> = f
            .boots
            .iter()
            .map(|b| format!("{:.1}", b.answer_ms as f64 / 1000.0))
            .collect();
        let boot = match f.memory_mib {
            Some(m) => format!("{} -m {m}", f.format),
            None => f.format.clone(),
        };
        println!(
            "{:<16} {:<14} {:>9} {:>9} {:>7.1}MB {:>7.0}%  {:<26} {:>7.1}s",
            f.app,
            boot,
            mb(f.kernel_bytes),
            mb(f.initrd_bytes),
            f.total_bytes as f64 / 1e6,
            f.percent_of_goal,
            times.join(" "),
            f.median_answer_ms as f64 / 1000.0
        );
    }
    let unclean = all
        .iter()
        .flat_map(|f| &f.boots)
        .filter(|b| !b.clean_shutdown)
        .count();
    if unclean > 0 {
        eprintln!("warning: {unclean} boot(s) did not shut down cleanly");
    }
    Ok(ExitCode::SUCCESS)
}
