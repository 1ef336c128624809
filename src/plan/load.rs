//! Reading and writing `plan.yaml`, with errors that name the file, line and column.

use super::{Plan, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid plan: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: plan schema {found} is not supported (this liftkit reads schema {SCHEMA_VERSION})"
    )]
    Schema { path: PathBuf, found: u32 },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

const HEADER: &str = "\
# liftkit plan: what each lifted image holds, and why.
# Edit freely (files, volumes, ports, user, entrypoint, env), then run `liftkit build` on it.
";

pub fn to_yaml(plan: &Plan) -> Result<String, String> {
    let body = serde_yaml_ng::to_string(plan).map_err(|e| e.to_string())?;
    Ok(format!("{HEADER}{body}"))
}

pub fn save(plan: &Plan, path: &Path) -> std::io::Result<()> {
    let text = to_yaml(plan).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, text.as_bytes())
}

pub fn load(path: &Path) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Flow collections (`[`, `{`) nested deeper than any plan needs: the YAML scanner takes time
/// quadratic in the depth before refusing them (100,000 `[` took 10 s).
const MAX_FLOW_DEPTH: usize = 256;

pub fn parse(path: &Path, text: &str) -> Result<Plan, LoadError> {
    if let Some((line, column)) = too_deep(text) {
        return Err(LoadError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: format!("collections nested deeper than {MAX_FLOW_DEPTH} levels"),
        });
    }
    let plan: Plan = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        LoadError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    if plan.schema != SCHEMA_VERSION {
        return Err(LoadError::Schema {
            path: path.to_path_buf(),
            found: plan.schema,
        });
    }
    validate(&plan).map_err(|message| LoadError::Invalid {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(plan)
}

/// Where flow nesting first exceeds the limit (1-based line and column), brackets inside quotes
/// and comments aside.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1, 0);
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        column += 1;
        match (quote, c) {
            (_, '\n') => {
                (line, column, comment) = (line + 1, 0, false);
                continue;
            }
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some((line, column));
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// What serde cannot check: the things build would otherwise trip over halfway.
fn validate(plan: &Plan) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for app in &plan.apps {
        if !names.insert(app.slug()) {
            return Err(format!("two apps are named {:?}", app.name));
        }
        if app.image.entrypoint.is_empty() && app.image.cmd.is_empty() {
            return Err(format!(
                "app {}: image has neither entrypoint nor cmd",
                app.name
            ));
        }
        let paths = app
            .files
            .iter()
            .map(|f| &f.path)
            .chain(app.generated.iter().map(|g| &g.path))
            .chain(app.links.iter().map(|l| &l.path))
            .chain(app.dirs.iter().map(|d| &d.path))
            .chain(app.volumes.iter().map(|v| &v.path));
        for p in paths {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return Err(format!(
                    "app {}: path {p:?} must be absolute and must not contain '..'",
                    app.name
                ));
            }
        }
        for port in &app.image.ports {
            let ok = port.split_once('/').is_some_and(|(n, proto)| {
                n.parse::<u16>().is_ok() && (proto == "tcp" || proto == "udp")
            });
            if !ok {
                return Err(format!(
                    "app {}: port {port:?} is not of the form 8080/tcp",
                    app.name
                ));
            }
        }
    }
    Ok(())
}
