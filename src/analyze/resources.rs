//! Resource requests and limits for the lifted app, sized from what its processes used on the
//! source (memory and CPU time in the snapshot), with headroom, and the reason written down.

use crate::plan::{Deploy, Resources};
use crate::snapshot::Process;

/// Memory request and limit as multiples of what the app held: a request the scheduler can
/// trust, a limit with room for load the snapshot did not see.
const MEMORY_REQUEST_FACTOR: f64 = 1.25;
const MEMORY_LIMIT_FACTOR: f64 = 2.0;
const MEMORY_REQUEST_FLOOR_MIB: u64 = 16;
const MEMORY_LIMIT_FLOOR_MIB: u64 = 64;
/// CPU request as a multiple of the mean use since start (a mean hides peaks), and a limit far
/// above it: CPU limits throttle, so they are set high.
const CPU_REQUEST_FACTOR: f64 = 2.0;
const CPU_REQUEST_FLOOR_M: u64 = 50;
const CPU_LIMIT_FACTOR: u64 = 4;
const CPU_LIMIT_FLOOR_M: u64 = 500;
/// A JVM grows to its `-Xmx`, whatever it held when collected.
const JVM_HEAP_OVERHEAD: f64 = 1.5;

/// The deploy choices analyze makes: cluster networking, nothing per environment, resources
/// from the processes' usage.
pub fn deploy(procs: &[&Process]) -> Deploy {
    Deploy {
        host_network: false,
        per_environment: Vec::new(),
        resources: size(procs),
    }
}

/// `None` when the snapshot recorded no usage (an older snapshot, a declared process).
pub fn size(procs: &[&Process]) -> Option<Resources> {
    let known: Vec<&&Process> = procs.iter().filter(|p| !p.usage.is_unknown()).collect();
    if known.is_empty() {
        return None;
    }
    let all_pss = known.iter().all(|p| p.usage.pss_kib > 0);
    let held_kib: u64 = known
        .iter()
        .map(|p| {
            if all_pss {
                p.usage.pss_kib
            } else {
                p.usage.rss_kib
            }
        })
        .sum();
    let cpu_ms: u64 = known.iter().map(|p| p.usage.cpu_ms).sum();
    let age_ms = known
        .iter()
        .map(|p| p.usage.age_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let mean_cores = cpu_ms as f64 / age_ms as f64;

    let mib = |kib: f64| (kib / 1024.0).ceil() as u64;
    let mem_request = mib(held_kib as f64 * MEMORY_REQUEST_FACTOR).max(MEMORY_REQUEST_FLOOR_MIB);
    let mut mem_limit = mib(held_kib as f64 * MEMORY_LIMIT_FACTOR).max(MEMORY_LIMIT_FLOOR_MIB);
    let heap = procs
        .iter()
        .filter_map(|p| jvm_max_heap_mib(&p.cmdline))
        .max();
    let mut heap_note = String::new();
    if let Some(heap) = heap {
        let needed = (heap as f64 * JVM_HEAP_OVERHEAD).ceil() as u64;
        if needed > mem_limit {
            mem_limit = needed;
            heap_note =
                format!("; memory limit raised to {JVM_HEAP_OVERHEAD} × the JVM's -Xmx ({heap}Mi)");
        }
    }
    let millis = |cores: f64| ((cores * 1000.0 / 10.0).ceil() as u64) * 10;
    let cpu_request = millis(mean_cores * CPU_REQUEST_FACTOR).max(CPU_REQUEST_FLOOR_M);
    let cpu_limit = (cpu_request * CPU_LIMIT_FACTOR).max(CPU_LIMIT_FLOOR_M);

    let measure = if all_pss { "PSS" } else { "RSS" };
    let why = format!(
        "{n} process{es} held {held} MiB ({measure}) and used {pct:.1}% of a CPU on average over \
         {age} since start; requests: {MEMORY_REQUEST_FACTOR} × memory (at least \
         {MEMORY_REQUEST_FLOOR_MIB}Mi), {CPU_REQUEST_FACTOR} × mean CPU (at least \
         {CPU_REQUEST_FLOOR_M}m); limits: {MEMORY_LIMIT_FACTOR} × memory (at least \
         {MEMORY_LIMIT_FLOOR_MIB}Mi), {CPU_LIMIT_FACTOR} × the CPU request (at least \
         {CPU_LIMIT_FLOOR_M}m){heap_note}",
        n = known.len(),
        es = if known.len() == 1 { "" } else { "es" },
        held = format_mib(held_kib),
        pct = mean_cores * 100.0,
        age = duration(age_ms),
    );
    Some(Resources {
        cpu_request: format!("{cpu_request}m"),
        cpu_limit: format!("{cpu_limit}m"),
        memory_request: format!("{mem_request}Mi"),
        memory_limit: format!("{mem_limit}Mi"),
        why,
    })
}

/// `3h 05m`, `12m 04s`, `9s`: how long the mean was taken over.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

fn format_mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// `-Xmx512m`, `-Xmx2g`, `-Xmx1048576k` → MiB.
fn jvm_max_heap_mib(cmdline: &[String]) -> Option<u64> {
    let arg = cmdline.iter().rev().find_map(|a| a.strip_prefix("-Xmx"))?;
    let (digits, unit) = arg.split_at(arg.find(|c: char| !c.is_ascii_digit())?.min(arg.len()));
    let n: u64 = digits.parse().ok()?;
    Some(match unit.to_ascii_lowercase().as_str() {
        "k" => n / 1024,
        "m" => n,
        "g" => n * 1024,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Usage;

    fn proc(rss: u64, pss: u64, cpu_ms: u64, age_ms: u64, cmdline: &[&str]) -> Process {
        Process {
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            usage: Usage {
                rss_kib: rss,
                pss_kib: pss,
                cpu_ms,
                age_ms,
            },
            ..Process::default()
        }
    }

    #[test]
    fn sized_from_pss_with_headroom_and_floors() {
        // Two workers sharing pages: PSS adds up, RSS would count the shared part twice.
        let a = proc(40 * 1024, 30 * 1024, 60_000, 600_000, &[]);
        let b = proc(40 * 1024, 10 * 1024, 0, 590_000, &[]);
        let r = size(&[&a, &b]).unwrap();
        assert_eq!(r.memory_request, "50Mi");
        assert_eq!(r.memory_limit, "80Mi");
        // 60 s of CPU over 600 s: 10% of a core → 200m requested, 800m limit.
        assert_eq!(r.cpu_request, "200m");
        assert_eq!(r.cpu_limit, "800m");
        assert!(
            r.why.contains("2 processes held 40.0 MiB (PSS)"),
            "{}",
            r.why
        );
        assert!(r.why.contains("10.0% of a CPU"), "{}", r.why);
    }

    #[test]
    fn an_idle_small_daemon_gets_the_floors() {
        let a = proc(2048, 0, 10, 3_600_000, &[]);
        let r = size(&[&a]).unwrap();
        assert_eq!(
            (r.memory_request.as_str(), r.memory_limit.as_str()),
            ("16Mi", "64Mi")
        );
        assert_eq!(
            (r.cpu_request.as_str(), r.cpu_limit.as_str()),
            ("50m", "500m")
        );
        assert!(r.why.contains("(RSS)"), "no PSS: RSS is used: {}", r.why);
    }

    #[test]
    fn a_jvm_is_given_room_for_its_heap() {
        let a = proc(100 * 1024, 90 * 1024, 0, 1000, &["java", "-Xmx1g", "Main"]);
        let r = size(&[&a]).unwrap();
        assert_eq!(r.memory_limit, "1536Mi");
        assert!(r.why.contains("-Xmx"), "{}", r.why);
        assert_eq!(jvm_max_heap_mib(&["-Xmx512m".into()]), Some(512));
        assert_eq!(jvm_max_heap_mib(&["-Xmx".into()]), None);
        assert_eq!(jvm_max_heap_mib(&["-Xmx12".into()]), None);
    }

    #[test]
    fn no_usage_recorded_sizes_nothing() {
        let a = proc(0, 0, 0, 0, &[]);
        assert_eq!(size(&[&a]), None);
    }
}
