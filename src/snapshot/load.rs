//! Reading and writing `snapshot.json` with errors that name the file, line and column.

use super::{Snapshot, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid snapshot: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: snapshot schema {found} is not supported (this liftkit reads schema {SCHEMA_VERSION})")]
    Schema { path: PathBuf, found: u32 },
    #[error("{path}: this is a plan (`liftkit analyze` writes it), not a snapshot: build it with `liftkit build {path}`")]
    Plan { path: PathBuf },
}

pub fn load(path: &Path) -> Result<Snapshot, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses snapshot text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Snapshot, LoadError> {
    let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| {
        // A plan given where a snapshot belongs is named as such (looked at only on failure:
        // scanning every snapshot's lines costs a fleet's batch).
        let plan_like = text.lines().any(|l| l.starts_with("apps:"))
            && text.lines().any(|l| l.starts_with("source:"));
        if plan_like && !text.trim_start().starts_with('{') {
            return LoadError::Plan {
                path: path.to_path_buf(),
            };
        }
        LoadError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: without_location(&e.to_string()),
        }
    })?;
    if snapshot.schema != SCHEMA_VERSION {
        return Err(LoadError::Schema {
            path: path.to_path_buf(),
            found: snapshot.schema,
        });
    }
    Ok(snapshot)
}

/// serde_json's message without the ` at line L column C` the prefix already gives.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

pub fn save(snapshot: &Snapshot, path: &Path) -> std::io::Result<()> {
    // Process environments may hold credentials: the snapshot is for the operator only.
    // Streamed: a fleet host's snapshot is megabytes, held once already as the value.
    crate::fsutil::write_atomic_with(path, 0o600, |out| {
        serde_json::to_writer_pretty(&mut *out, snapshot)?;
        out.write_all(b"\n")
    })
}
