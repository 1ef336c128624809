//! `liftkit bench generic`: the generic path on services nobody wrote an analyzer for. Each
//! corpus service (liftkit::bench::testbed) is started legacy-style, lifted by pid, stopped and
//! run from its image; the table says whether it answered the same, with analyzers on and with
//! `--generic` (analyzers off), with the image size, the trial's rounds and additions and the
//! lift's time.

use anyhow::Result;
use liftkit::bench::testbed::{self, Lifted, Request};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to measure (default: the whole corpus and the analyzed stacks).
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Only with analyzers on (skip the `--generic` pass).
    #[arg(long)]
    pub analyzed_only: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let engine = std::env::var("ENGINE").unwrap_or_else(|_| "podman".to_string());
    let run_flags = std::env::var("ENGINE_RUN_FLAGS").unwrap_or_default();
    let exe = std::env::current_exe()?;
    let work = std::env::temp_dir().join(format!("liftkit-bench-generic-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let chosen: Vec<&'static testbed::Service> = if args.services.is_empty() {
        testbed::SERVICES.iter().collect()
    } else {
        args.services
            .iter()
            .map(|n| {
                testbed::service(n).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no corpus service {n:?} (known: {})",
                        testbed::SERVICES
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let passes: &[bool] = if args.analyzed_only {
        &[false]
    } else {
        &[false, true]
    };
    let mut rows: Vec<Lifted> = Vec::new();
    for &generic in passes {
        for s in &chosen {
            let req = Request {
                liftkit: &exe,
                engine: &engine,
                run_flags: &run_flags,
                generic,
                extra_args: &[],
            };
            let dir = work.join(if generic { "generic" } else { "analyzed" });
            match testbed::lift_and_compare(s, &dir, &req) {
                Ok(r) => rows.push(r),
                Err(e) => eprintln!("{}: not measured: {e}", s.name),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print(&rows, passes);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(rows: &[Lifted], passes: &[bool]) {
    for &generic in passes {
        let pass: Vec<&Lifted> = rows.iter().filter(|r| r.generic == generic).collect();
        if pass.is_empty() {
            continue;
        }
        println!(
            "\n{}",
            if generic {
                "analyzers off (--generic)"
            } else {
                "analyzers on"
            }
        );
        println!(
            "{:<10} | {:<6} | {:<11} | {:>8} | {:>12} | {:>18} | {:>12}",
            "service",
            "lifted",
            "same answer",
            "image MB",
            "trial rounds",
            "files trial added",
            "lift seconds"
        );
        for r in &pass {
            println!(
                "{:<10} | {:<6} | {:<11} | {:>8.1} | {:>12} | {:>18} | {:>12.1}",
                r.service,
                if r.lifted { "yes" } else { "no" },
                if r.same { "yes" } else { "no" },
                r.image_bytes as f64 / 1e6,
                r.trial_rounds,
                r.trial_added.len(),
                r.lift_seconds
            );
        }
        let same = pass.iter().filter(|r| r.same).count();
        let mut times: Vec<f64> = pass.iter().map(|r| r.lift_seconds).collect();
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "answering the same: {same}/{} ({:.0}%, target 100%); median lift {:.1} s",
            pass.len(),
            100.0 * same as f64 / pass.len() as f64,
            times[times.len() / 2]
        );
        for r in pass.iter().filter(|r| !r.same) {
            println!(
                "  {}: {}",
                r.service,
                r.why
                    .as_deref()
                    .unwrap_or("?")
                    .chars()
                    .take(240)
                    .collect::<String>()
            );
        }
    }
}
