//! `liftkit bench boot out/<app>/…`: the host image's size against LinuxKit's ISO (35 MB) and the
//! time from starting qemu to the app's first answer, median of several boots.

use anyhow::{bail, Context, Result};
use liftkit::hostimage::boot::{self, BootOptions, BootRun};
use serde::Serialize;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The LinuxKit ISO's size: a host tailored to one app should be far below it.
const GOAL_BYTES: u64 = 35_000_000;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Build the host images first, e.g.\n  liftkit lift --app nginx -o out --host-image\n  liftkit bench boot out/nginx --runs 3"
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
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    app: String,
    kernel_bytes: u64,
    initrd_bytes: u64,
    total_bytes: u64,
    goal_bytes: u64,
    percent_of_goal: f64,
    boots: Vec<BootRun>,
    median_answer_ms: u128,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut all = Vec::new();
    for dir in &args.app_dirs {
        all.push(measure(dir, &args)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>8}  {:<26} {:>8}",
        "APP", "KERNEL", "INITRD", "TOTAL", "OF 35MB", "BOOT→ANSWER (s)", "MEDIAN"
    );
    for f in &all {
        let times: Vec<String> = f
            .boots
            .iter()
            .map(|b| format!("{:.1}", b.answer_ms as f64 / 1000.0))
            .collect();
        println!(
            "{:<16} {:>7.1}MB {:>7.1}MB {:>7.1}MB {:>7.0}%  {:<26} {:>7.1}s",
            f.app,
            f.kernel_bytes as f64 / 1e6,
            f.initrd_bytes as f64 / 1e6,
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

fn measure(dir: &std::path::Path, args: &Args) -> Result<Figures> {
    let plan = liftkit::plan::load(&dir.join("plan.yaml"))
        .with_context(|| format!("{}: not a lifted app's output", dir.display()))?;
    let app = plan.apps.first().context("the plan holds no application")?;
    let slug = app.slug();
    let size =
        |suffix: &str| std::fs::metadata(dir.join(format!("{slug}-{suffix}"))).map(|m| m.len());
    let (Ok(kernel_bytes), Ok(initrd_bytes)) = (size("kernel"), size("initrd.img")) else {
        bail!(
            "{}: no host image (run `liftkit host-image {}` first)",
            dir.display(),
            dir.display()
        );
    };
    let guest_port = app
        .image
        .ports
        .iter()
        .find_map(|p| p.split('/').next()?.parse::<u16>().ok())
        .context("the app listens on no TCP port to ask")?;
    let how = boot::ask_from(&app.probes)?;
    let work = tempfile_dir()?;
    let opts = BootOptions {
        accel: args.accel.clone(),
        timeout: Duration::from_secs(args.timeout),
        work: work.clone(),
    };
    let mut boots = Vec::new();
    for i in 0..args.runs {
        eprintln!("{}: boot {}/{}", app.name, i + 1, args.runs);
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        boots.push(boot::boot_once(dir, &how, port, guest_port, &opts)?);
    }
    let _ = std::fs::remove_dir_all(&work);
    let mut times: Vec<u128> = boots.iter().map(|b| b.answer_ms).collect();
    times.sort_unstable();
    let total = kernel_bytes + initrd_bytes;
    Ok(Figures {
        app: app.name.clone(),
        kernel_bytes,
        initrd_bytes,
        total_bytes: total,
        goal_bytes: GOAL_BYTES,
        percent_of_goal: total as f64 * 100.0 / GOAL_BYTES as f64,
        median_answer_ms: times[times.len() / 2],
        boots,
    })
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("liftkit-bench-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
