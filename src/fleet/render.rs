//! The fleet report's three encodings: `fleet.json` (the model), `fleet.csv` (one row per
//! application, or per host without one, or per unreadable snapshot) and `fleet.html`
//! (`templates/fleet.html.hbs`, self-contained like the engagement report).

use super::{Charts, FleetError, FleetReport, HostRow, Summary};
use crate::report::chart::{self, Row};
use std::path::Path;

/// Hosts drawn in the effort chart; the table lists them all.
const CHART_HOSTS: usize = 20;

pub fn charts(summary: &Summary, hosts: &[HostRow]) -> Charts {
    let fit = chart::bars(
        [
            ("good", summary.good),
            ("partial", summary.partial),
            ("poor", summary.poor),
        ]
        .into_iter()
        .map(|(level, n)| Row {
            label: format!("fit {level}"),
            bars: vec![(n as u64, level)],
            value: format!("{n} application{}", if n == 1 { "" } else { "s" }),
        })
        .collect(),
    );
    let mut by_effort: Vec<&HostRow> = hosts.iter().collect();
    by_effort.sort_by(|a, b| {
        b.effort_days
            .total_cmp(&a.effort_days)
            .then(a.hostname.cmp(&b.hostname))
    });
    let effort = chart::bars(
        by_effort
            .iter()
            .take(CHART_HOSTS)
            .map(|h| Row {
                label: if h.contents == "none" {
                    format!("{} (inventory only)", h.hostname)
                } else {
                    h.hostname.clone()
                },
                // Quarter days, so the bars scale without floating point.
                bars: vec![((h.effort_days * 4.0) as u64, "image")],
                value: format!("{} days, {} apps", h.effort_days, h.apps),
            })
            .collect(),
    );
    Charts { fit, effort }
}

const CSV_HEADER: [&str; 20] = [
    "file",
    "hostname",
    "status",
    "os",
    "kernel",
    "contents",
    "app",
    "analyzer",
    "version",
    "fit",
    "blockers",
    "errors",
    "warnings",
    "files",
    "volumes",
    "secrets",
    "listen",
    "effort_days",
    "differs",
    "reason",
];

pub fn to_csv(report: &FleetReport) -> String {
    let mut out = String::new();
    line(&mut out, CSV_HEADER.iter().map(|s| s.to_string()).collect());
    for h in &report.hosts {
        let apps: Vec<_> = report.apps.iter().filter(|a| a.file == h.file).collect();
        let host_cells = |status: &str| {
            vec![
                h.file.clone(),
                h.hostname.clone(),
                status.to_string(),
                h.os.clone(),
                h.kernel.clone(),
                h.contents.clone(),
            ]
        };
        if apps.is_empty() {
            let mut cells = host_cells("no-apps");
            cells.extend(std::iter::repeat_n(String::new(), 14));
            line(&mut out, cells);
        }
        for a in apps {
            let mut cells = host_cells("ok");
            cells.extend([
                a.app.clone(),
                a.analyzer.clone(),
                a.version.clone(),
                a.fit.clone(),
                a.blockers.join("; "),
                a.errors.to_string(),
                a.warnings.to_string(),
                a.files.to_string(),
                a.volumes.to_string(),
                a.secrets.to_string(),
                a.listen.join(" "),
                a.effort_days.to_string(),
                a.differs.join("; "),
                String::new(),
            ]);
            line(&mut out, cells);
        }
    }
    for u in &report.unreadable {
        let mut cells = vec![u.file.clone(), String::new(), "unreadable".to_string()];
        cells.extend(std::iter::repeat_n(String::new(), 16));
        cells.push(u.reason.clone());
        line(&mut out, cells);
    }
    out
}

/// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
fn line(out: &mut String, cells: Vec<String>) {
    let quoted: Vec<String> = cells
        .into_iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect();
    out.push_str(&quoted.join(","));
    out.push_str("\r\n");
}

pub fn to_html(report: &FleetReport) -> Result<String, FleetError> {
    Ok(crate::report::render::fleet_html(report)?)
}

/// Writes `fleet.json`, `fleet.csv` and `fleet.html` into `dir` (created if missing).
pub fn write(report: &FleetReport, dir: &Path) -> Result<(), FleetError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FleetError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| err(&dir.join("fleet.json"))(std::io::Error::other(e)))?
        + "\n";
    for (name, text) in [
        ("fleet.json", json),
        ("fleet.csv", to_csv(report)),
        ("fleet.html", to_html(report)?),
    ] {
        let path = dir.join(name);
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(err(&path))?;
    }
    Ok(())
}
