//! The output directory of a run.

use super::{io_err, PipelineError};
use std::path::Path;

/// Refuses an output directory that holds something unless `force`: a lift must not mix its
/// results with someone else's files. With `force`, only the apps being built are replaced.
pub fn prepare_output(out: &Path, force: bool) -> Result<(), PipelineError> {
    if out.exists() {
        if !out.is_dir() {
            return Err(PipelineError::Output(format!(
                "{}: exists and is not a directory",
                out.display()
            )));
        }
        let non_empty = std::fs::read_dir(out)
            .map_err(io_err(out, "cannot list"))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(PipelineError::Output(format!(
                "{}: exists and is not empty (use --force to replace the applications it holds)",
                out.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(io_err(out, "cannot create"))
}

/// The application directories an output root holds (`out/nginx/`, … with a build.json),
/// sorted; empty when `out` is not one.
pub fn app_dirs(out: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("build.json").is_file())
        .collect();
    dirs.sort();
    dirs
}
