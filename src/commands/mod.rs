//! One module per verb. Each turns its arguments into calls on the library and maps the outcome to
//! an exit code; the library does the work.

pub mod analyze;
pub mod analyzers;
pub mod batch;
pub mod bench_batch;
pub mod bench_boot;
pub mod bench_build;
pub mod bench_collect;
pub mod bench_deps;
pub mod bench_footprint;
pub mod bench_generic;
pub mod bench_lift;
pub mod bench_parity;
pub mod bench_size;
pub mod build;
pub mod collect;
mod common;
pub mod deps;
pub mod engagement;
mod from_disk;
pub mod host_image;
pub mod host_kernel;
pub mod lift;
mod logs_arg;
pub mod priority;
pub mod trial_args;
pub mod verify;
pub mod wizard;
mod wizard_term;

use crate::cli::{Bench, Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lift(a) => lift::run(a),
        Command::Collect(a) => collect::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Build(a) => build::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Deps(a) => deps::run(a),
        Command::Analyzers(a) => analyzers::run(a),
        Command::Wizard(a) => wizard::run(a),
        Command::Batch(a) => batch::run(a),
        Command::HostImage(a) => host_image::run(a),
        Command::HostKernel(a) => host_kernel::run(a),
        Command::Engagement(a) => engagement::run(a),
        Command::Bench(Bench::Deps(a)) => bench_deps::run(a),
        Command::Bench(Bench::Size(a)) => bench_size::run(a),
        Command::Bench(Bench::Boot(a)) => bench_boot::run(a),
        Command::Bench(Bench::Footprint(a)) => bench_footprint::run(a),
        Command::Bench(Bench::Generic(a)) => bench_generic::run(a),
        Command::Bench(Bench::Parity(a)) => bench_parity::run(a),
        Command::Bench(Bench::Collect(a)) => bench_collect::run(a),
        Command::Bench(Bench::Build(a)) => bench_build::run(a),
        Command::Bench(Bench::Batch(a)) => bench_batch::run(a),
        Command::Bench(Bench::Lift(a)) => bench_lift::run(a),
    }
}

/// The error and its causes on one line, each cause once: library errors already carry their
/// source in their message (`x.json: cannot read: No such file or directory (os error 2)`), and
/// anyhow's `{:#}` would repeat it.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}
