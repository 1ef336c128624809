//! `liftkit host-image out/<app>/ [--format …]`: a bootable host for a lifted app (kernel +
//! initrd, ISO, raw BIOS/EFI disks, qcow2, vmdk), built offline from this machine's kernel and
//! OCI runtime.

use anyhow::Result;
use liftkit::hostimage::{self, Format, HostImage};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  liftkit host-image out/nginx\n  \
liftkit host-image out/nginx --format iso --format qcow2\n  \
liftkit host-image out/redis --kernel /boot/vmlinuz-6.1.0-26-amd64 --modules /lib/modules/6.1.0-26-amd64\n  \
out/nginx/run-qemu.sh\n  BOOT=iso FIRMWARE=efi out/nginx/run-qemu.sh")]
pub struct Args {
    /// The lifted app's output directory (holds plan.yaml and oci/).
    pub app_dir: PathBuf,
    #[command(flatten)]
    pub opts: HostImageArgs,
    /// Print what was written as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostImageArgs {
    /// Kernel image (vmlinuz) [default: /boot/vmlinuz-$(uname -r)].
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// The kernel's modules tree, lib/modules/<version> [default: /lib/modules/<its version>].
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
    /// OCI runtime to run the app with (crun or runc) [default: crun if installed, else runc].
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Make listeners bound to 127.0.0.1 reachable on the VM's address too (init relays them;
    /// clients still arrive from 127.0.0.1). Off by default: the source kept them local.
    #[arg(long)]
    pub expose_loopback: bool,
    /// Do not build <app>-data.img from volumes/ (volumes are then tmpfs).
    #[arg(long)]
    pub no_data_disk: bool,
    /// What to write (repeat, or comma-separate): kernel+initrd, iso (BIOS and EFI), raw-bios
    /// (MBR disk), raw-efi (GPT disk, EFI and BIOS), qcow2, vmdk [default: kernel+initrd].
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = parse_format)]
    pub formats: Vec<Format>,
}

pub(crate) fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

impl HostImageArgs {
    /// The flags given, by name: `lift` takes them only with `--host-image`.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.kernel.is_some(), "--kernel"),
            (self.modules.is_some(), "--modules"),
            (self.runtime.is_some(), "--runtime"),
            (self.expose_loopback, "--expose-loopback"),
            (self.no_data_disk, "--no-data-disk"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }

    pub fn options(&self) -> hostimage::Options {
        hostimage::Options {
            kernel: self.kernel.clone(),
            modules: self.modules.clone(),
            runtime: self.runtime.clone(),
            expose_loopback: self.expose_loopback,
            no_data_disk: self.no_data_disk,
            formats: self.formats.clone(),
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let built = hostimage::build(&args.app_dir, &args.opts.options())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&built)?);
    } else {
        print_summary(&built);
    }
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_summary(h: &HostImage) {
    let mb = |b: u64| b as f64 / 1_000_000.0;
    println!(
        "{}: host image: kernel {} {:.1} MB, system {:.1} MB (squashfs), initrd {:.1} MB; {} modules; runtime {}",
        h.app,
        h.kernel_release,
        mb(h.kernel_bytes),
        mb(h.system_bytes),
        mb(h.initrd_bytes),
        h.modules.len(),
        h.runtime.display()
    );
    for w in &h.written {
        println!(
            "  {:<14} {:>7.1} MB  {}  sha256:{}",
            w.format.name(),
            mb(w.bytes),
            w.path.display(),
            &w.sha256[..16]
        );
    }
    if let Some(d) = &h.data_disk {
        println!("  data: {}", d.display());
    }
    println!("  boot: {}", h.run_script.display());
}
