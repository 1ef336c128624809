//! `liftkit bench generic`: the corpus lifted with analyzers on and off
//! (liftkit::bench::generic).

use anyhow::Result;
use liftkit::bench::generic;
use liftkit::bench::testbed::Lifted;
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
    let services = generic::chosen(&args.services)?;
    let rows = generic::measure(&services, args.analyzed_only, &std::env::current_exe()?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print(&rows, generic::passes(args.analyzed_only));
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
            "{:<10} | {:<6} | {:<11} | {:>8} | {:>12} | {:>18} | {:>12} | {:>8} | {:>8}",
            "service",
            "lifted",
            "same answer",
            "image MB",
            "trial rounds",
            "files trial added",
            "lift seconds",
            "recall",
            "image/ws"
        );
        for r in &pass {
            // Recall of the trial's working set, and image bytes over its bytes.
            let (recall, ratio) = r.size.as_ref().map_or(("-".into(), "-".into()), |s| {
                (
                    format!("{:.1}%", s.recall_percent),
                    format!("{:.2}", s.ratio),
                )
            });
            println!(
                "{:<10} | {:<6} | {:<11} | {:>8.1} | {:>12} | {:>18} | {:>12.1} | {recall:>8} | {ratio:>8}",
                r.service,
                if r.lifted { "yes" } else { "no" },
                if r.same { "yes" } else { "no" },
                r.image_bytes as f64 / 1e6,
                r.trial_rounds,
                r.trial_added.len(),
                r.lift_seconds
            );
        }
        for r in pass
            .iter()
            .filter_map(|r| Some((r.service.as_str(), r.size.as_ref()?)))
        {
            if !r.1.missing.is_empty() {
                println!("  {}: not in the image: {}", r.0, r.1.missing.join(" "));
            }
        }
        let same = pass.iter().filter(|r| r.same).count();
        let times: Vec<f64> = pass.iter().map(|r| r.lift_seconds).collect();
        println!(
            "answering the same: {same}/{} ({:.0}%, target 100%); median lift {:.1} s",
            pass.len(),
            100.0 * same as f64 / pass.len() as f64,
            liftkit::bench::median(&times)
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
