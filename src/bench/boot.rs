//! `liftkit bench boot`: the host image's size against LinuxKit's ISO (35 MB) and the time from
//! starting qemu to the app's first answer, median of several boots.

use super::BenchError;
use crate::hostimage::boot::{self, BootOptions, BootRun};
use crate::hostimage::Format;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// The LinuxKit ISO's size: a host tailored to one app should be far below it.
pub const GOAL_BYTES: u64 = 35_000_000;

pub struct Options {
    pub runs: usize,
    /// qemu accelerator (tcg works without KVM).
    pub accel: String,
    /// How long one boot may take to answer.
    pub timeout: Duration,
    /// The format booted (run-qemu.sh's BOOT).
    pub format: Format,
    /// run-qemu.sh's MEMORY (MiB); None: its default.
    pub memory: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub app: String,
    /// The format booted, and the memory it was given (None: run-qemu.sh's default).
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// kernel+initrd: the kernel's and the initrd's bytes; the other formats: None.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd_bytes: Option<u64>,
    /// What boots: the kernel and initrd together, or the disk or ISO file.
    pub total_bytes: u64,
    pub goal_bytes: u64,
    pub percent_of_goal: f64,
    pub boots: Vec<BootRun>,
    pub median_answer_ms: u128,
}

/// Boots the host image in `dir` (a lifted app's output) `opts.runs` times.
pub fn measure(dir: &Path, opts: &Options) -> Result<Figures, BenchError> {
    if opts.runs == 0 {
        return Err(BenchError::Failed("--runs must be at least 1".to_string()));
    }
    let app = super::lifted_app(dir)?;
    let slug = app.slug();
    let size =
        |suffix: &str| std::fs::metadata(dir.join(format!("{slug}-{suffix}"))).map(|m| m.len());
    let missing = || {
        BenchError::Failed(format!(
            "{}: no {} host image (run `liftkit host-image {} --format {}` first)",
            dir.display(),
            opts.format.name(),
            dir.display(),
            opts.format.name()
        ))
    };
    let (kernel_bytes, initrd_bytes, total) = if opts.format == Format::KernelInitrd {
        let (Ok(k), Ok(i)) = (size("kernel"), size("initrd.img")) else {
            return Err(missing());
        };
        (Some(k), Some(i), k + i)
    } else {
        let file = dir.join(opts.format.file_name(&slug));
        let bytes = std::fs::metadata(&file).map_err(|_| missing())?.len();
        (None, None, bytes)
    };
    let guest_port = super::first_tcp_port(&app)?;
    let how = boot::ask_from(&app.probes)?;
    let work = super::workdir("boot")?;
    let boot_opts = BootOptions {
        accel: opts.accel.clone(),
        timeout: opts.timeout,
        work: work.to_path_buf(),
        env: std::iter::once(("BOOT".to_string(), opts.format.name().to_string()))
            .chain(opts.memory.map(|m| ("MEMORY".to_string(), m.to_string())))
            .collect(),
    };
    let mut boots = Vec::new();
    for i in 0..opts.runs {
        eprintln!("{}: boot {}/{}", app.name, i + 1, opts.runs);
        let port = super::testbed::free_port();
        boots.push(boot::boot_once(dir, &how, port, guest_port, &boot_opts)?);
    }
    let times: Vec<u128> = boots.iter().map(|b| b.answer_ms).collect();
    Ok(Figures {
        app: app.name.clone(),
        format: opts.format.name().to_string(),
        memory_mib: opts.memory,
        kernel_bytes,
        initrd_bytes,
        total_bytes: total,
        goal_bytes: GOAL_BYTES,
        percent_of_goal: total as f64 * 100.0 / GOAL_BYTES as f64,
        median_answer_ms: super::median(&times),
        boots,
    })
}
