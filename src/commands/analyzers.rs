//! `liftkit analyzers`: the knowledge liftkit has about applications, and checks on new files.

use super::common;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
    /// Directory of extra analyzers (*.toml) that add to or replace the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub analyzers: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// One line per analyzer: id, what it detects, its description.
    List {
        /// Print the analyzers as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print one analyzer as liftkit understood it.
    Show {
        /// The analyzer's id, as `liftkit analyzers list` prints it (nginx, redis, …).
        id: String,
    },
    /// Parse and validate analyzer files; errors name the file, line and key.
    Check {
        /// Analyzer files (*.toml) to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.action {
        Action::List { json } => {
            let all = common::analyzers(args.analyzers.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for a in &all {
                    println!(
                        "{:<10} {:<40} {}",
                        a.id,
                        a.detect.exe.join(","),
                        a.description
                    );
                }
                println!(
                    "{:<10} {:<40} fallback: lifted from runtime evidence",
                    "generic", "(any ELF service)"
                );
            }
        }
        Action::Show { id } => {
            let all = common::analyzers(args.analyzers.as_deref())?;
            let Some(a) = all.iter().find(|a| a.id == id) else {
                let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
                anyhow::bail!("no analyzer {id:?} (known: {})", ids.join(", "));
            };
            print!("{}", toml::to_string_pretty(a)?);
        }
        Action::Check { files } => {
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", f.display()))?;
                let a = liftkit::analyze::spec::parse(f, &text)?;
                println!("{}: ok (analyzer {})", f.display(), a.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
