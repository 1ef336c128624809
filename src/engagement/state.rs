//! `state.json`: what `run` has done, per app and step, and what each step was made from (a
//! content digest). Written whole after every step, so a run killed at any point leaves the
//! state of the last finished step, and the next run takes up from there.

use super::{io_err, write_file, EngagementError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    pub schema: u32,
    /// By app id (`host/app`).
    pub apps: BTreeMap<String, AppState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Lifted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
    /// The last step that failed, and why (cleared when it succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failed>,
    /// How many times each step ran, over all runs: a resumed run that redid nothing leaves them.
    #[serde(default)]
    pub runs: Runs,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Runs {
    pub lift: u32,
    pub trial: u32,
    pub accept: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lifted {
    /// The digest of the plan the image was built from.
    pub plan_sha256: String,
    pub image: String,
    pub manifest_digest: String,
    pub content_bytes: u64,
    pub layer_bytes: u64,
    pub volume_bytes: u64,
    /// Warning and error findings of the plan and the build.
    pub open_findings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    pub plan_sha256: String,
    /// Whether the run asked for it (not with `--no-trial`): a trial asked for later is run then.
    pub asked: bool,
    /// False when it did not run (not asked, or no sandbox here), with why in the note.
    pub ran: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The digest of the plan and the agreed tests the acceptance run was made against.
    pub key_sha256: String,
    pub passed: bool,
    pub tests: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    pub step: String,
    pub plan_sha256: String,
    pub error: String,
}

impl RunState {
    pub fn load(path: &Path) -> Result<RunState, EngagementError> {
        if !path.exists() {
            return Ok(RunState {
                schema: SCHEMA_VERSION,
                apps: BTreeMap::new(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io_err(path, "cannot read"))?;
        let state: RunState = serde_json::from_str(&text).map_err(|e| EngagementError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if state.schema != SCHEMA_VERSION {
            return Err(EngagementError::Schema {
                path: path.to_path_buf(),
                found: state.schema,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(state)
    }

    pub fn save(&self, path: &Path) -> Result<(), EngagementError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| EngagementError::Io {
            path: path.to_path_buf(),
            what: "cannot encode",
            source: std::io::Error::other(e),
        })?;
        write_file(path, (text + "\n").as_bytes())
    }

    pub fn app(&self, id: &str) -> Option<&AppState> {
        self.apps.get(id)
    }
}
