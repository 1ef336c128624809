//! Installed packages from dpkg's database, `/var/lib/dpkg/status`.
//!
//! The file is read directly rather than through `dpkg-query`: collect runs nothing on the host.

use super::read_host_text;
use crate::findings::Finding;
use crate::snapshot::Package;
use std::io::ErrorKind;
use std::path::Path;

const STATUS: &str = "/var/lib/dpkg/status";

/// The live host's packages: dpkg's, and rpm's where the host has an rpm database.
pub fn read(findings: &mut Vec<Finding>) -> Vec<Package> {
    let mut packages = read_status(&|p| read_host_text(p), findings);
    packages.extend(super::rpm::packages(&crate::host::live(), findings));
    if packages.is_empty() {
        findings.push(Finding::info(
            STATUS,
            "no dpkg status and no rpm database: packages not inventoried",
        ));
    }
    packages
}

/// dpkg's status through `read` (the live host's files, or a root's).
pub fn read_status(
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    findings: &mut Vec<Finding>,
) -> Vec<Package> {
    match read(Path::new(STATUS)) {
        Ok(text) => parse_status(&text),
        // Not a dpkg system (RHEL, Alpine, a distroless host): rpm may say more.
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            findings.push(Finding::warning(STATUS, format!("could not be read: {e}")));
            Vec::new()
        }
    }
}

/// Parses dpkg status text into the packages that are fully installed (`install ok installed`),
/// sorted by name and architecture. Packages removed but with config files left
/// (`deinstall ok config-files`) or half-installed ones are not what the host runs.
pub fn parse_status(text: &str) -> Vec<Package> {
    let mut packages: Vec<Package> = paragraphs(text).into_iter().filter_map(package).collect();
    packages.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    packages
}

/// Splits into stanzas separated by blank lines, tolerating CRLF and trailing whitespace.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut current = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn package(lines: Vec<&str>) -> Option<Package> {
    let field = |name: &str| -> Option<&str> {
        lines.iter().find_map(|line| {
            // Continuation lines start with whitespace and never name a field.
            let (key, value) = line.split_once(':')?;
            (!line.starts_with([' ', '\t']) && key.eq_ignore_ascii_case(name))
                .then_some(value.trim())
        })
    };
    let status: Vec<&str> = field("Status")?.split_whitespace().collect();
    if status != ["install", "ok", "installed"] {
        return None;
    }
    Some(Package {
        name: field("Package")?.to_string(),
        version: field("Version").unwrap_or_default().to_string(),
        arch: field("Architecture").unwrap_or_default().to_string(),
        installed_kib: field("Installed-Size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        source: field("Source").unwrap_or_default().to_string(),
    })
}
