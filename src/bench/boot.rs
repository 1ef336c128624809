//! `liftkit bench boot`: the host image's size against LinuxKit's ISO (35 MB) and the time from
//! starting qemu to the app's first answer, median of several boots.

use super::BenchError;
use crate::hostimage::boot::{self, BootOptions, BootRun};
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
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub app: String,
    pub kernel_bytes: u64,
    pub initrd_bytes: u64,
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
    let (Ok(kernel_bytes), Ok(initrd_bytes)) = (size("kernel"), size("initrd.img")) else {
        return Err(BenchError::Failed(format!(
            "{}: no host image (run `liftkit host-image {}` first)",
            dir.display(),
            dir.display()
        )));
    };
    let guest_port = super::first_tcp_port(&app)?;
    let how = boot::ask_from(&app.probes)?;
    let work = super::workdir("boot")?;
    let boot_opts = BootOptions {
        accel: opts.accel.clone(),
        timeout: opts.timeout,
        work: work.to_path_buf(),
        env: Vec::new(),
    };
    let mut boots = Vec::new();
    for i in 0..opts.runs {
        eprintln!("{}: boot {}/{}", app.name, i + 1, opts.runs);
        let port = super::testbed::free_port();
        boots.push(boot::boot_once(dir, &how, port, guest_port, &boot_opts)?);
    }
    let times: Vec<u128> = boots.iter().map(|b| b.answer_ms).collect();
    let total = kernel_bytes + initrd_bytes;
    Ok(Figures {
        app: app.name.clone(),
        kernel_bytes,
        initrd_bytes,
        total_bytes: total,
        goal_bytes: GOAL_BYTES,
        percent_of_goal: total as f64 * 100.0 / GOAL_BYTES as f64,
        median_answer_ms: super::median(&times),
        boots,
    })
}
