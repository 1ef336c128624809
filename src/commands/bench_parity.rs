//! `liftkit bench parity`: the original and its lifted, hardened image under the same load
//! (see liftkit::bench::parity): requests/s, p99 latency, memory and CPU per 10,000 requests,
//! for nginx, redis and PostgreSQL, and the lifted app's share of the original's figures.

use anyhow::Result;
use liftkit::bench::parity::{self, Parity, Request, APPS};
use liftkit::verify::Engine;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Apps to measure (default: nginx, redis, postgres).
    #[arg(long, value_delimiter = ',')]
    pub apps: Vec<String>,
    /// Requests per run, over all connections.
    #[arg(long, default_value_t = 40_000)]
    pub requests: u64,
    /// Concurrent connections (one client thread each, kept alive).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Rounds: each runs every side once (every other round in reverse order); each figure is
    /// the median, the throughput ratio the median of each round's ratio.
    #[arg(long, default_value_t = 7)]
    pub rounds: usize,
    /// Leave the server and the load loop where the scheduler puts them (by default the server,
    /// original or lifted, runs on one CPU and the load on the others, so neither side's runs
    /// are moved about by the other's).
    #[arg(long)]
    pub no_pin: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let apps: Vec<String> = if args.apps.is_empty() {
        APPS.iter().map(|a| a.to_string()).collect()
    } else {
        args.apps.clone()
    };
    if let Some(bad) = apps.iter().find(|a| !APPS.contains(&a.as_str())) {
        anyhow::bail!("bench parity: no app {bad:?} (known: {})", APPS.join(", "));
    }
    let req = Request {
        liftkit: std::env::current_exe()?,
        engine: Engine::from_env(),
        requests: args.requests.max(1),
        connections: args.connections.max(1),
        rounds: args.rounds.max(1),
        pin: !args.no_pin,
    };
    let work = std::env::temp_dir().join(format!("liftkit-bench-parity-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut rows: Vec<Parity> = Vec::new();
    for app in &apps {
        eprintln!("{app}: starting the original, lifting it, loading both…");
        match parity::measure(app, &work, &req) {
            Ok(p) => rows.push(p),
            Err(e) => eprintln!("{app}: not measured: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print(&rows, &req);
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn print(rows: &[Parity], req: &Request) {
    println!(
        "{} requests per run over {} connections, median of {} rounds (each runs every side \
         once); lifted = the hardened image (read-only root, dropped capabilities, \
         no-new-privileges, its seccomp profile), run by run.sh in its own network namespace",
        req.requests, req.connections, req.rounds
    );
    println!(
        "{:<9} {:<9} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>12}",
        "APP", "SIDE", "REQ/S", "P50 MS", "P99 MS", "RSS MiB", "PSS MiB", "ANON MiB", "CPU s/10k"
    );
    for r in rows {
        let sides = [
            ("original", Some(&r.original)),
            ("lifted", Some(&r.lifted)),
            ("file-logs", r.lifted_file_logs.as_ref()),
        ];
        for (side, s) in sides.into_iter().filter_map(|(n, s)| Some((n, s?))) {
            println!(
                "{:<9} {:<9} {:>10.0} {:>8.3} {:>8.3} {:>9.1} {:>9.1} {:>9.1} {:>12.3}",
                r.app,
                side,
                s.requests_per_second,
                s.p50_ms,
                s.p99_ms,
                mib(s.peak_rss_bytes),
                mib(s.peak_pss_bytes),
                mib(s.peak_pss_anon_bytes),
                s.cpu_seconds_per_10k
            );
        }
        // The target is one-sided: more throughput or less memory than the original is no miss,
        // so the words name the side of the bound, not a band around 100%.
        let within = |pct: f64, higher_is_better: bool| match (higher_is_better, pct) {
            (true, p) if p >= 95.0 => "meets the target: at least 95%",
            (true, _) => "misses the target: below 95%",
            (false, p) if p <= 105.0 => "meets the target: at most 105%",
            (false, _) => "misses the target: above 105%",
        };
        println!(
            "{:<9} lifted/original: throughput {:.1}% ({}; the original's own runs spread \
             ±{:.1}%), memory (PSS) {:.1}% ({}), anonymous memory {:.1}% ({}; liftkit's pid 1 \
             holds {:.0} KiB of it, the app alone {:.1}%), CPU per request {:.1}%",
            r.app,
            r.throughput_percent,
            within(r.throughput_percent, true),
            r.original_spread_percent,
            r.memory_percent,
            within(r.memory_percent, false),
            r.anon_memory_percent,
            within(r.anon_memory_percent, false),
            r.supervisor_pss_anon_bytes as f64 / 1024.0,
            r.app_anon_memory_percent,
            r.cpu_percent
        );
        println!("{:<9} {}", r.app, r.pinning);
        if let Some(h) = &r.hardening {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            println!(
                "{:<9} hardened: read-only root {}, no-new-privileges {}, capabilities {}, tmpfs \
                 {}, volumes {}, profile {} system calls ({})",
                r.app,
                h.read_only_root,
                h.no_new_privileges,
                list(&h.capabilities),
                list(&r.placements.tmpfs),
                list(&r.placements.volumes),
                r.placements.profile_syscalls,
                h.seccomp
            );
        }
        if let Some(why) = &r.original_cgroup_missing {
            println!(
                "{:<9} note: the original ran in the root CPU group, the image in its own ({why}): \
                 the scheduler weighed them differently",
                r.app
            );
        }
        if let Some(pct) = r.file_logs_throughput_percent {
            println!(
                "{:<9} file-logs/original: throughput {pct:.1}% ({}): the same plan lifted with \
                 --logs files: its logs kept as files in a volume, not sent through the engine's \
                 log pipe",
                r.app,
                within(pct, true)
            );
        }
    }
}
