//! Benchmarks: figures, never pass/fail, each against a peer measured in the same run
//! (`liftkit bench …`). The commands parse, call these and print what they measured. `testbed`
//! holds the legacy services the benchmarks and the integration tests share; `measure` how a
//! child process is timed and weighed.

pub mod batch;
pub mod boot;
pub mod build;
pub mod collect;
pub mod deps;
pub mod footprint;
pub mod generic;
pub mod lift;
pub mod measure;
pub mod parity;
pub mod size;
pub mod testbed;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Failed(String),
    #[error("{0} not found on PATH: the benchmark compares against it ({1})")]
    Missing(String, String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Testbed(#[from] testbed::TestbedError),
    #[error(transparent)]
    Plan(#[from] crate::plan::LoadError),
    #[error(transparent)]
    Boot(#[from] crate::hostimage::boot::BootError),
    #[error(transparent)]
    HostImage(#[from] crate::hostimage::HostImageError),
}

pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A program on PATH, by name.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// Each tool on PATH, or the first missing one with the packages that bring them.
pub fn require(tools: &[&str], packages: &str) -> Result<(), BenchError> {
    match tools.iter().find(|t| which(t).is_none()) {
        Some(t) => Err(BenchError::Missing(
            t.to_string(),
            format!("apt-get install {packages}"),
        )),
        None => Ok(()),
    }
}

/// A fresh work directory under the temporary directory, readable by the services' users,
/// removed when dropped: a benchmark that fails halfway leaves nothing behind.
pub fn workdir(name: &str) -> Result<WorkDir, BenchError> {
    let dir = std::env::temp_dir().join(format!("liftkit-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let work = WorkDir(dir);
    testbed::set_mode(&work, 0o755)?;
    Ok(work)
}

pub struct WorkDir(PathBuf);

impl WorkDir {
    /// Keeps the directory (for a look after the run): it is no longer removed.
    pub fn keep(self) -> PathBuf {
        let dir = self.0.clone();
        std::mem::forget(self);
        dir
    }
}

impl std::ops::Deref for WorkDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for WorkDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The median of some figures (the upper one of an even count); 0 for none.
pub fn median<T: Copy + PartialOrd + Default>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// `a / b`, NaN when there is nothing to compare against.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// The first TCP port the plan's image exposes, the one a probe asks through.
pub fn first_tcp_port(app: &crate::plan::AppPlan) -> Result<u16, BenchError> {
    app.image
        .ports
        .iter()
        .find_map(|p| p.split('/').next()?.parse::<u16>().ok())
        .ok_or_else(|| BenchError::Failed("the app listens on no TCP port to ask".to_string()))
}

/// A lifted app's output directory: its plan and its (only) application.
pub fn lifted_app(dir: &Path) -> Result<crate::plan::AppPlan, BenchError> {
    let plan = crate::plan::load(&dir.join("plan.yaml")).map_err(|e| {
        BenchError::Failed(format!(
            "{}: not a lifted app's output ({e})",
            dir.display()
        ))
    })?;
    plan.apps.into_iter().next().ok_or_else(|| {
        BenchError::Failed(format!("{}: the plan holds no application", dir.display()))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_and_ratio() {
        assert_eq!(super::median(&[3, 1, 2]), 2);
        assert_eq!(super::median::<u32>(&[]), 0);
        assert!(super::ratio(1.0, 0.0).is_nan());
        assert_eq!(super::ratio(1.0, 4.0), 0.25);
    }
}
