//! liftkit: lift legacy Linux applications into minimal, reproducible OCI images.

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    liftkit::os::memory::bound_arenas();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liftkit: error: {}", commands::one_line(&e));
            ExitCode::from(2)
        }
    }
}
