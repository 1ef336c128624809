//! Command-line types only: what each verb accepts. No logic lives here.

use crate::commands;
use clap::{Parser, Subcommand};

/// Shown after the commands, in `-h` and `--help` alike (one layout for every help page).
const AFTER_HELP: &str = "\
liftkit reads a running server (read-only: it writes only under the output directory), finds
the applications on it, and lifts each into an OCI image holding exactly what it needs.

The pipeline, stage by stage (each reads only the previous stage's file):
  liftkit collect -o snapshot.json             inventory of the host (processes, sockets, …)
  liftkit analyze snapshot.json -o plan.yaml   what each image holds, and why (edit it)
  liftkit build plan.yaml -o out/              images, run.sh, reports, manifests per app
  liftkit verify out/APP                       run the image, compare it with the original
or all at once: `liftkit lift --list` lists the applications, `liftkit lift --app nginx -o out/`
lifts one, `liftkit wizard` walks through it.

Exit codes: 0 done, 1 done with error-level findings (or, for verify, answers that differ),
2 failed or bad input.";

/// Lift legacy Linux applications into minimal, reproducible container images.
#[derive(Debug, Parser)]
#[command(
    name = "liftkit",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the applications on this host, or lift chosen ones into images in one step.
    Lift(commands::lift::Args),
    /// Take a read-only inventory of this host into snapshot.json.
    Collect(commands::collect::Args),
    /// Turn a snapshot into an editable plan: files, volumes, ports, user, entrypoint.
    Analyze(commands::analyze::Args),
    /// Build the images and their companions from a plan.
    Build(commands::build::Args),
    /// Run a lifted image and check it answers as the original does.
    Verify(commands::verify::Args),
    /// Show what the dynamic loader would load for ELF files, without running them.
    Deps(commands::deps::Args),
    /// List, show or check the analyzers (knowledge about applications, as data).
    Analyzers(commands::analyzers::Args),
    /// Walk through a lift at the terminal: choose, review, change, build, verify; answers are saved.
    Wizard(commands::wizard::Args),
    /// Fleet report from a directory of snapshots: hosts, applications, fit, effort, differences.
    Batch(commands::batch::Args),
    /// Build a bootable host (kernel + initramfs + run-qemu.sh) for a lifted app, offline.
    HostImage(commands::host_image::Args),
    /// Build liftkit's own small kernel for host images from Debian's Linux source.
    HostKernel(commands::host_kernel::Args),
    /// A fixed-scope engagement in a workspace: init, scope (+ statement of work), run, status,
    /// handover.
    Engagement(commands::engagement::Args),
    /// Measure liftkit against its peers (figures, not pass/fail).
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Resolve every ELF file under /usr and compare with ldd and lddtree: agreement and speed.
    Deps(commands::bench_deps::Args),
    /// Lift nginx and redis traced with strace: recall of the traced files and image/traced bytes.
    Size(commands::bench_size::Args),
    /// Boot host images under qemu: kernel+initrd size and time to the app's first answer.
    Boot(commands::bench_boot::Args),
    /// A lifted host against the same app in a minimal Debian VM: smallest -m, memory used,
    /// boot-to-answer time, image size, and the ratios.
    Footprint(commands::bench_footprint::Args),
    /// Lift the generic corpus (services no analyzer knows) and the analyzed stacks, with
    /// analyzers on and off: same answer, image size, trial rounds, lift time.
    Generic(commands::bench_generic::Args),
    /// nginx, redis and PostgreSQL against their lifted, hardened images under the same
    /// load: requests/s, p99 latency, memory and CPU per 10,000 requests.
    Parity(commands::bench_parity::Args),
    /// Collect this host against ps, ss and lsof, with extra idle processes: time and peak memory.
    Collect(commands::bench_collect::Args),
    /// Build a plan against tar | gzip -6 of the same files: time, and the same bytes every run.
    Build(commands::bench_build::Args),
    /// Batch over a fleet of snapshots (10,000 by default): seconds.
    Batch(commands::bench_batch::Args),
    /// Lift nginx and redis (no trial): wall time and peak memory, optionally against another
    /// build of liftkit.
    Lift(commands::bench_lift::Args),
}
