//! `liftkit host-kernel -o DIR`: liftkit's own small kernel for host images, built from Debian's
//! Linux source (liftkit::hostimage::own_kernel).

use anyhow::Result;
use liftkit::hostimage::own_kernel::{self, Request};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "A distribution kernel needs about 80 MiB before any init runs (Debian's 6.1 \
decompresses into 63.6 MiB at 16 MiB); this one, tinyconfig plus what a liftkit host uses, all \
built in, needs far less and boots faster. Needs make gcc flex bison bc libelf-dev and the source \
(Debian package linux-source-6.1).\n\nExamples:\n  apt-get install linux-source-6.1 flex bison bc libelf-dev\n  \
liftkit host-kernel -o /var/tmp/k\n  \
liftkit host-image out/nginx --kernel /var/tmp/k/vmlinuz-6.1.192-liftkit --modules /var/tmp/k/lib/modules/6.1.192-liftkit\n  \
liftkit bench footprint out/nginx --own-kernel /var/tmp/k"
)]
pub struct Args {
    /// Where the kernel, its config and its modules tree go (the source is unpacked under it).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// A Linux source tree or tarball [default: the newest /usr/src/linux-source-*.tar.*].
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// Parallel compile jobs [default: the CPUs here].
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Print the configuration fragment liftkit merges over tinyconfig, and exit.
    #[arg(long)]
    pub print_config: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.print_config {
        print!("{}", own_kernel::FRAGMENT);
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // The same source gives the same image: the build date is SOURCE_DATE_EPOCH, or else 0.
    let epoch = super::common::source_date_epoch()?.unwrap_or(0).max(0) as u64;
    let built = own_kernel::build(&Request {
        source: args.source,
        out: args.out,
        jobs,
        epoch,
    })?;
    let size = std::fs::metadata(&built.image).map_or(0, |m| m.len());
    println!(
        "kernel {}: {} ({:.1} MB{})",
        built.release,
        built.image.display(),
        size as f64 / 1e6,
        built
            .floor
            .map(|f| format!(
                ", needs {:.1} MiB before init runs",
                f as f64 / f64::from(1 << 20)
            ))
            .unwrap_or_default()
    );
    println!("modules: {}", built.modules_dir.display());
    println!(
        "use: liftkit host-image OUT/APP --kernel {} --modules {}",
        built.image.display(),
        built.modules_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
