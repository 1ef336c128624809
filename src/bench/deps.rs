//! `liftkit bench deps`: the resolver against the real loader on this machine. Every ELF file
//! under the system directories is resolved by us and by `ldd` (which runs glibc's ld.so in
//! trace mode); the sets of loaded objects are compared and every difference is explained or
//! counted as unexplained. Our resolver, `ldd` and `lddtree` (pax-utils) are timed on the same
//! files.
//!

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;
use crate::elf::{LoaderEnv, Resolution, ResolveOptions, Resolver};
use crate::host::Host;
use rayon::prelude::*;
use serde::Serialize;

pub const DEFAULT_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"];

/// What ldd said about one file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum Ldd {
    /// Objects listed (paths) and names reported "not found".
    Loaded {
        paths: BTreeSet<String>,
        not_found: BTreeSet<String>,
    },
    /// "statically linked" / "not a dynamic executable".
    Static,
    Failed(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub file: PathBuf,
    pub category: &'static str,
    pub explanation: String,
    pub only_ours: Vec<String>,
    pub only_ldd: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Comparison {
    pub files_compared: usize,
    pub agree: usize,
    pub agreement_percent: f64,
    /// Agreement when disagreements with a known cause count as agreeing.
    pub agreement_explained_percent: f64,
    /// Disagreements with a known cause, by category.
    pub explained: BTreeMap<&'static str, usize>,
    pub unexplained: usize,
    pub disagreements: Vec<Disagreement>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub threads: usize,
    /// Median of `ours_runs` passes after an untimed one.
    pub ours_runs: usize,
    pub ours_seconds: f64,
    pub ldd_seconds: f64,
    pub ldd_ratio: f64,
    pub lddtree_sample_files: usize,
    pub lddtree_sample_seconds: f64,
    /// The sample's time scaled to the whole set (an extrapolation, not a measurement).
    pub lddtree_extrapolated_seconds: f64,
    pub lddtree_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub cpu_level: u8,
    pub comparison: Comparison,
    pub timings: Timings,
}

/// What to measure: the directories scanned, at most `limit` files, lddtree on a sample.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub dirs: Vec<PathBuf>,
    pub limit: Option<usize>,
    pub lddtree_sample: usize,
    pub cpu_level: Option<u8>,
    /// Timed passes of our resolver (the median is reported); ldd, at ~12 s a pass, runs once.
    pub runs: usize,
}

/// Resolves every ELF file of the request with liftkit and with ldd (and a sample with lddtree),
/// timing each, and compares the results.
pub fn measure(req: &Request, progress: &dyn Fn(&str)) -> Result<(Report, usize), BenchError> {
    super::require(&["ldd"], "libc-bin")?;
    let dirs: Vec<PathBuf> = if req.dirs.is_empty() {
        DEFAULT_DIRS.iter().map(PathBuf::from).collect()
    } else {
        req.dirs.clone()
    };
    let mut files = elf_files(&dirs);
    if let Some(n) = req.limit {
        files = spread(&files, n);
    }
    progress(&format!(
        "{} ELF files under {}",
        files.len(),
        display_list(&dirs)
    ));
    let opts = ResolveOptions {
        cpu_level: req.cpu_level,
    };
    // Page cache warm for both sides: an untimed pass reads what ours reads (ldd reads more,
    // but its first file already maps libc for the rest). A cold first pass measured the disk.
    let resolve_all = || {
        let t = Instant::now();
        let resolver = Resolver::new(&crate::host::live(), opts.clone());
        let ours: Vec<Resolution> = files
            .par_iter()
            .map(|f| resolver.resolve(f, &LoaderEnv::default()))
            .collect();
        (t.elapsed(), resolver.cpu_level(), ours)
    };
    resolve_all();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..req.runs.max(1) {
        let (time, level, ours) = resolve_all();
        times.push(time);
        last = Some((level, ours));
    }
    let ours_time = super::median(&times);
    let (cpu_level, ours) = last.unwrap_or_default();
    let t = Instant::now();
    let ldd: Vec<Ldd> = files.par_iter().map(|f| run_ldd(f)).collect();
    let ldd_time = t.elapsed();
    let sample = spread(&files, req.lddtree_sample);
    let lddtree_time = if sample.is_empty() || super::which("lddtree").is_none() {
        Duration::ZERO
    } else {
        let t = Instant::now();
        sample.par_iter().for_each(|f| run_lddtree(f));
        t.elapsed()
    };
    let comparison = compare_all(&files, &ours, &ldd);
    let extrapolated = if sample.is_empty() {
        0.0
    } else {
        lddtree_time.as_secs_f64() * files.len() as f64 / sample.len() as f64
    };
    let ours_s = ours_time.as_secs_f64().max(1e-9);
    let report = Report {
        cpu_level,
        comparison,
        timings: Timings {
            threads: rayon::current_num_threads(),
            ours_runs: times.len(),
            ours_seconds: ours_time.as_secs_f64(),
            ldd_seconds: ldd_time.as_secs_f64(),
            ldd_ratio: ldd_time.as_secs_f64() / ours_s,
            lddtree_sample_files: sample.len(),
            lddtree_sample_seconds: lddtree_time.as_secs_f64(),
            lddtree_extrapolated_seconds: extrapolated,
            lddtree_ratio: extrapolated / ours_s,
        },
    };
    Ok((report, files.len()))
}

pub fn format_report(r: &Report, total: usize) -> String {
    let mut o = String::new();
    let c = &r.comparison;
    let t = &r.timings;
    let _ = writeln!(o, "files compared:   {}", c.files_compared);
    let _ = writeln!(
        o,
        "agreement:        {:.2}% ({} of {})",
        c.agreement_percent, c.agree, c.files_compared
    );
    for (cat, n) in &c.explained {
        let _ = writeln!(o, "  explained:      {n} × {cat}");
    }
    let _ = writeln!(o, "  unexplained:    {}", c.unexplained);
    let _ = writeln!(
        o,
        "agreement with explained differences: {:.2}%",
        c.agreement_explained_percent
    );
    for d in &c.disagreements {
        let _ = writeln!(
            o,
            "  {} [{}]: {}",
            d.file.display(),
            d.category,
            d.explanation
        );
        if !d.only_ours.is_empty() {
            let _ = writeln!(o, "      only ours: {}", d.only_ours.join(" "));
        }
        if !d.only_ldd.is_empty() {
            let _ = writeln!(o, "      only ldd:  {}", d.only_ldd.join(" "));
        }
    }
    let _ = writeln!(
        o,
        "timings ({} threads, x86-64 level {}):",
        t.threads, r.cpu_level
    );
    let _ = writeln!(
        o,
        "  liftkit:        {:.3} s for {total} files (median of {} warm runs)",
        t.ours_seconds, t.ours_runs
    );
    let _ = writeln!(
        o,
        "  ldd:            {:.3} s ({:.0}× slower)",
        t.ldd_seconds, t.ldd_ratio
    );
    if t.lddtree_sample_files > 0 {
        let _ = writeln!(
        o,
        "  lddtree:        {:.3} s for a sample of {} files, extrapolated to {:.1} s for all ({:.0}× slower)",
            t.lddtree_sample_seconds, t.lddtree_sample_files, t.lddtree_extrapolated_seconds, t.lddtree_ratio
        );
    }
    o
}

/// Regular files (not symlinks) starting with the ELF magic, sorted.
pub fn elf_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let host = crate::host::live();
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| {
            walkdir::WalkDir::new(d)
                .follow_links(false)
                .into_iter()
                .filter_map(|e| e.ok())
        })
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter(|p| host.read_limited(p, 4).is_ok_and(|b| b == b"\x7fELF"))
        .collect();
    files.sort();
    files
}

/// `n` files evenly spread over `files` (all of them when n ≥ len).
pub fn spread(files: &[PathBuf], n: usize) -> Vec<PathBuf> {
    if n >= files.len() {
        return files.to_vec();
    }
    (0..n).map(|i| files[i * files.len() / n].clone()).collect()
}

fn loader_free_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "LD_BIND_NOW",
        "LD_DEBUG",
        "LD_TRACE_LOADED_OBJECTS",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

pub fn run_ldd(file: &Path) -> Ldd {
    match loader_free_command("ldd").arg(file).output() {
        Ok(o) => parse_ldd(
            &String::from_utf8_lossy(&o.stdout),
            &String::from_utf8_lossy(&o.stderr),
            o.status.success(),
        ),
        Err(e) => Ldd::Failed(format!("cannot run ldd: {e}")),
    }
}

fn run_lddtree(file: &Path) {
    let _ = loader_free_command("lddtree")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// ldd's output: `name => path (addr)`, `name => not found`, `path (addr)`, the vDSO, or a
/// static marker.
pub fn parse_ldd(stdout: &str, stderr: &str, success: bool) -> Ldd {
    let text = stdout.trim();
    if text.contains("statically linked")
        || text.contains("not a dynamic executable")
        || stderr.contains("not a dynamic executable")
    {
        return Ldd::Static;
    }
    let mut paths = BTreeSet::new();
    let mut not_found = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once(" => ") {
            let rest = rest.trim();
            if rest == "not found" {
                not_found.insert(name.trim().to_string());
            } else if let Some(p) = strip_addr(rest) {
                paths.insert(p.to_string());
            }
        } else if let Some(p) = strip_addr(line) {
            if p.starts_with('/') {
                paths.insert(p.to_string());
            }
        }
    }
    if !success && paths.is_empty() && not_found.is_empty() {
        return Ldd::Failed(
            stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("ldd failed")
                .to_string(),
        );
    }
    Ldd::Loaded { paths, not_found }
}

fn strip_addr(s: &str) -> Option<&str> {
    match s.rsplit_once(" (0x") {
        Some((p, _)) => Some(p.trim()),
        None => (!s.is_empty()).then_some(s),
    }
}

pub fn compare_all(files: &[PathBuf], ours: &[Resolution], ldd: &[Ldd]) -> Comparison {
    let mut c = Comparison::default();
    for ((file, r), l) in files.iter().zip(ours).zip(ldd) {
        c.files_compared += 1;
        match compare_one(file, r, l) {
            None => c.agree += 1,
            Some(d) => {
                if d.category == "unexplained" {
                    c.unexplained += 1;
                } else {
                    *c.explained.entry(d.category).or_default() += 1;
                }
                c.disagreements.push(d);
            }
        }
    }
    let percent = |n: usize| {
        if c.files_compared == 0 {
            100.0
        } else {
            100.0 * n as f64 / c.files_compared as f64
        }
    };
    c.agreement_percent = percent(c.agree);
    c.agreement_explained_percent = percent(c.files_compared - c.unexplained);
    c
}

/// None when we and ldd name the same objects; otherwise the difference and its explanation.
pub fn compare_one(file: &Path, ours: &Resolution, ldd: &Ldd) -> Option<Disagreement> {
    let our_paths: BTreeSet<String> = ours
        .libraries
        .iter()
        .map(|l| l.path.to_string_lossy().into_owned())
        .collect();
    let our_missing: BTreeSet<String> = ours.missing.iter().map(|m| m.name.clone()).collect();
    let ours_static = our_paths.is_empty() && our_missing.is_empty();
    let (ldd_paths, ldd_missing) = match ldd {
        Ldd::Static if ours_static => return None,
        Ldd::Loaded { paths, not_found } if *paths == our_paths && *not_found == our_missing => {
            return None
        }
        Ldd::Loaded { paths, not_found } => (paths.clone(), not_found.clone()),
        Ldd::Static | Ldd::Failed(_) => (BTreeSet::new(), BTreeSet::new()),
    };
    let only_ours: Vec<String> = our_paths
        .difference(&ldd_paths)
        .cloned()
        .chain(
            our_missing
                .difference(&ldd_missing)
                .map(|m| format!("{m} (not found)")),
        )
        .collect();
    let only_ldd: Vec<String> = ldd_paths
        .difference(&our_paths)
        .cloned()
        .chain(
            ldd_missing
                .difference(&our_missing)
                .map(|m| format!("{m} (not found)")),
        )
        .collect();
    let (category, explanation) = explain(ours, ldd, &only_ours, &only_ldd);
    Some(Disagreement {
        file: file.to_path_buf(),
        category,
        explanation,
        only_ours,
        only_ldd,
    })
}

/// Known reasons ldd's view differs from what the kernel + ld.so would do for the file.
fn explain(
    ours: &Resolution,
    ldd: &Ldd,
    only_ours: &[String],
    only_ldd: &[String],
) -> (&'static str, String) {
    let interp = ours
        .interpreter
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let std_interp = ["/lib64/ld-linux-x86-64.so.2"];
    if let Some(i) = &interp {
        if !std_interp.contains(&i.as_str())
            && only_ours.iter().all(|p| p == i)
            && only_ldd.iter().all(|p| std_interp.contains(&p.as_str()))
        {
            return (
                "nonstandard PT_INTERP",
                format!("ldd runs its own loader and prints that; the kernel would load {i}"),
            );
        }
    }
    if let Ldd::Failed(msg) = ldd {
        return ("ldd failed", format!("ldd could not trace the file: {msg}"));
    }
    if matches!(ldd, Ldd::Static)
        && ours
            .warnings
            .iter()
            .any(|w| w.contains("wrong machine") || w.contains("wrong class"))
    {
        return (
            "foreign architecture",
            "ldd has no loader for this class/machine; ours resolves against the root and finds no matching libraries".into(),
        );
    }
    if matches!(ldd, Ldd::Static)
        && ours
            .interpreter
            .as_ref()
            .is_some_and(|i| !Path::new(i).exists())
    {
        return (
            "foreign architecture",
            "its PT_INTERP does not exist here, so ldd cannot trace it".into(),
        );
    }
    ("unexplained", "differs from ldd".into())
}

fn display_list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
