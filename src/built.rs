//! What one app's build produced: printed as the summary, written as `build.json`, read by the
//! report. Its own module so build (which writes it) and report (which reads it) do not depend on
//! each other.

use crate::findings::Finding;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct AppBuild {
    pub app: String,
    pub dir: PathBuf,
    pub image: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    /// Bytes of the compressed layer and of the files it holds.
    pub layer_bytes: u64,
    pub content_bytes: u64,
    pub entries: usize,
    pub volume_bytes: u64,
    pub created: i64,
    pub findings: Vec<Finding>,
}
