//! One module per verb. Each turns its arguments into calls on the library and maps the outcome to
//! an exit code; the library does the work.

pub mod analyze;
pub mod analyzers;
pub mod build;
pub mod collect;
pub mod lift;
mod common;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lift(a) => lift::run(a),
        Command::Collect(a) => collect::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Build(a) => build::run(a),
        Command::Analyzers(a) => analyzers::run(a),
    }
}
