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
    #[error(
        "{path}: this is a snapshot (`liftkit collect` writes it), not a plan: run `liftkit analyze {path} -o plan.yaml` first, then build the plan"
    )]
    Snapshot { path: PathBuf },
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
    // A plan is the deliverable a build replays: one `build` would refuse is not written.
    validate(plan).map_err(|bad| {
        std::io::Error::other(format!(
            "the plan made for {} is not one build can read back ({}): a liftkit bug, please \
             report it",
            bad.app, bad.message
        ))
    })?;
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
    if is_snapshot(text) {
        return Err(LoadError::Snapshot {
            path: path.to_path_buf(),
        });
    }
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
        let message = without_location(&e.to_string());
        let (line, column, message) = match ended_early(text, line, column, &message) {
            Some(better) => better,
            None => (line, column, message),
        };
        LoadError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })?;
    if plan.schema != SCHEMA_VERSION {
        return Err(LoadError::Schema {
            path: path.to_path_buf(),
            found: plan.schema,
        });
    }
    validate(&plan).map_err(
        |bad| match bad.value.and_then(|v| locate(text, &bad.app, &v)) {
            Some((line, column)) => LoadError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: bad.message,
            },
            None => LoadError::Invalid {
                path: path.to_path_buf(),
                message: bad.message,
            },
        },
    )?;
    Ok(plan)
}

/// A snapshot is JSON with `host` and `processes`; a plan has `source` and `apps`.
fn is_snapshot(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("host").is_some() && v.get("processes").is_some() && v.get("apps").is_none()
    })
}

/// The YAML library's message without the ` at line L column C` the prefix already gives.
fn without_location(message: &str) -> String {
    let re = regex::Regex::new(r" at line \d+ column \d+").expect("a valid regex");
    re.replace(message, "").into_owned()
}

/// A missing field is reported where its mapping starts; when the field is further down but
/// the mapping ended before it (a line indented less than its keys), that line is the fault.
fn ended_early(
    text: &str,
    line: usize,
    column: usize,
    message: &str,
) -> Option<(usize, usize, String)> {
    let re = regex::Regex::new(r"^(?:(\S+): )?missing field `([^`]+)`").ok()?;
    let caps = re.captures(message)?;
    let (mapping, field) = (caps.get(1).map_or("the plan", |m| m.as_str()), &caps[2]);
    let lines: Vec<&str> = text.lines().collect();
    let keys_at = column.checked_sub(1)?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let content = |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let (end, end_line) = lines
        .iter()
        .enumerate()
        .skip(line)
        .find(|(_, l)| content(l) && indent(l) < keys_at)?;
    let key = format!("{field}:");
    if end_line.trim_start().starts_with(&key) {
        return Some((
            end + 1,
            indent(end_line) + 1,
            format!(
                "`{field}` is indented to column {}: as a key of {mapping} (from line {line}) it \
                 belongs at column {column}",
                indent(end_line) + 1
            ),
        ));
    }
    let later = lines
        .iter()
        .enumerate()
        .skip(end + 1)
        .find(|(_, l)| l.trim_start().starts_with(&key))?;
    Some((
        end + 1,
        indent(end_line) + 1,
        format!(
            "{mapping} ends here, before its field `{field}` (line {}): this line is indented to \
             column {}, the keys of {mapping} (from line {line}) are at column {column}",
            later.0 + 1,
            indent(end_line) + 1,
        ),
    ))
}

/// Line and column of `value` among the lines of app `app` (after its `- name:` line).
fn locate(text: &str, app: &str, value: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix("name:")
                .is_some_and(|n| n.trim().trim_matches(['\'', '"']) == app)
        })
        .unwrap_or(0);
    lines.iter().enumerate().skip(start).find_map(|(i, l)| {
        let at = l.find(value)?;
        let before = l[..at].trim_end().trim_end_matches(['\'', '"']).trim_end();
        let after = l[at + value.len()..].trim_start_matches(['\'', '"']);
        (before.ends_with('-')
            || before.ends_with(':')
            || before.ends_with(',')
            || before.ends_with('['))
        .then_some(())
        .filter(|_| after.trim().is_empty() || after.starts_with([',', ']']))
        .map(|_| (i + 1, at + 1))
    })
}

/// What `validate` found wrong, and the value to point at in the text.
struct Bad {
    app: String,
    value: Option<String>,
    message: String,
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
fn validate(plan: &Plan) -> Result<(), Bad> {
    let mut names = std::collections::BTreeSet::new();
    for app in &plan.apps {
        let bad = |value: Option<&str>, message: String| Bad {
            app: app.name.clone(),
            value: value.map(str::to_string),
            message,
        };
        if !names.insert(app.slug()) {
            return Err(bad(None, format!("two apps are named {:?}", app.name)));
        }
        if app.image.entrypoint.is_empty() && app.image.cmd.is_empty() {
            return Err(bad(
                None,
                format!("app {}: image has neither entrypoint nor cmd", app.name),
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
                return Err(bad(
                    Some(p),
                    format!(
                        "app {}: path {p:?} must be absolute and must not contain '..'",
                        app.name
                    ),
                ));
            }
        }
        for v in &app.volumes {
            let Some(name) = v.populate_with.as_deref() else {
                continue;
            };
            if crate::registry::strategy(name).is_none() {
                return Err(bad(
                    Some(name),
                    format!(
                        "app {}: volume {}: populate_with: {}",
                        app.name,
                        v.path,
                        crate::registry::unknown(crate::registry::Kind::Strategy, name)
                    ),
                ));
            }
        }
        for port in &app.image.ports {
            if let Err(why) = check_port(port) {
                return Err(bad(
                    Some(port),
                    format!("app {}: port {port:?}: {why}", app.name),
                ));
            }
        }
    }
    Ok(())
}

/// `8080/tcp` or `53/udp`, the number 1-65535.
fn check_port(port: &str) -> Result<(), String> {
    let (number, proto) = match port.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (port, None),
    };
    match number.parse::<u64>() {
        Ok(n) if (1..=65535).contains(&n) => {}
        Ok(n) => return Err(format!("{n} is out of range (ports are 1-65535)")),
        Err(_) => return Err(format!("{number:?} is not a port number (1-65535)")),
    }
    match proto {
        Some("tcp" | "udp") => Ok(()),
        Some(p) => Err(format!("the protocol is tcp or udp, not {p:?}")),
        None => Err(format!("give the protocol: {number}/tcp or {number}/udp")),
    }
}
