//! `liftkit verify out/APP`: run the lifted image and compare its answers with the original's.

use anyhow::{bail, Result};
use liftkit::verify::{self, Engine, Verdict};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The engine is $ENGINE (default podman, else docker; it may carry global flags) \
with $ENGINE_RUN_FLAGS added to `run`, as for run.sh. The container gets its own network namespace, \
so the original can keep running on the same addresses.\n\
Exit codes: 0 the lifted app answers as the original, 1 it answers differently or not at all, 2 error."
)]
pub struct Args {
    /// An application's output directory (`out/<app>/`, holding plan.yaml and run.sh).
    pub app_dir: PathBuf,
    /// Seconds the lifted app may take to listen.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Leave the container running afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Print the result (or the error) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = verify::Options {
        engine: Engine::from_env(),
        timeout: Duration::from_secs(args.timeout),
        keep: args.keep,
    };
    let report = match app_dir(&args.app_dir).and_then(|dir| Ok(verify::verify(&dir, &opts)?)) {
        Ok(r) => r,
        Err(e) => {
            let text = super::one_line(&e);
            // Whoever asked for JSON reads stdout: the error goes there too, as JSON.
            if args.json {
                println!("{}", serde_json::json!({ "error": text }));
            }
            eprintln!("liftkit: error: {text}{}", super::common::engine_hint(&e));
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        match report.ready_after_ms {
            Some(ms) => println!(
                "{}: listening after {ms} ms in container {}",
                report.app, report.container
            ),
            None => println!("{}: did not answer", report.app),
        }
        for p in &report.probes {
            let original = match (&p.original, p.same) {
                (None, _) => "original not reachable here".to_string(),
                (Some(_), Some(true)) => match p.varying_lines {
                    Some(n) => format!(
                        "same as the original (apart from {n} line(s) the original changes \
                         between its own answers)"
                    ),
                    None => "same as the original".to_string(),
                },
                (Some(o), _) => format!("DIFFERS: the original gave {o}"),
            };
            println!("  {} at {}", p.probe, p.address);
            println!("      lifted: {}  —  {original}", p.lifted);
        }
        println!("verdict: {:?}", report.verdict);
        if let Some(why) = &report.failure {
            println!("  {why}");
        }
        for why in &report.diagnosis {
            println!("  hardening: {why}");
        }
        if report.verdict == Verdict::Failed {
            for l in &report.logs_tail {
                println!("  | {l}");
            }
        }
    }
    if let Some(why) = &report.failure {
        let hint = super::common::engine_hint_for(why);
        if !hint.is_empty() {
            eprintln!("{}", hint.trim_start());
        }
    }
    Ok(match report.verdict {
        Verdict::Same => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// The application's directory; an output root (`out/`, holding one per app) is named as such,
/// with the apps it holds.
fn app_dir(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!(
            "{}: no such directory (give an application's output directory, like out/nginx)",
            dir.display()
        );
    }
    if dir.join("plan.yaml").is_file() && dir.join("run.sh").is_file() {
        return Ok(dir.to_path_buf());
    }
    let apps = liftkit::pipeline::app_dirs(dir);
    if !apps.is_empty() {
        let names: Vec<String> = apps.iter().map(|a| a.display().to_string()).collect();
        bail!(
            "{} is an output directory, not an application's: verify one of the {} it holds \
             ({})",
            dir.display(),
            if names.len() == 1 {
                "application".to_string()
            } else {
                format!("{} applications", names.len())
            },
            names.join(", ")
        );
    }
    Ok(dir.to_path_buf())
}
