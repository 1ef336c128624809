//! Where the same application differs between hosts: its version, the versions of the packages
//! its files come from, the contents of its configuration files (by digest, where the files were
//! at hand) and the addresses it listens on.

use super::analyze::AppFacts;
use super::{Difference, Variant};
use std::collections::BTreeMap;

/// Digest characters shown: enough to tell variants apart in a table.
const SHORT_DIGEST: usize = 12;

pub fn differences(facts: &mut [AppFacts]) -> Vec<Difference> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in facts.iter().enumerate() {
        groups.entry(f.key.clone()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (key, members) in groups.iter().filter(|(_, m)| m.len() > 1) {
        let labels = labels(facts, members);
        let mut found = Vec::new();
        let each = |value: &dyn Fn(&AppFacts) -> Option<String>| -> BTreeMap<String, Vec<String>> {
            let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (i, label) in members.iter().zip(&labels) {
                if let Some(v) = value(&facts[*i]) {
                    by_value.entry(v).or_default().push(label.clone());
                }
            }
            by_value
        };
        // A version nothing names (no package owns the program, or its files were not at
        // hand) is unknown, and unknown is no variant.
        found.push((
            "version",
            key.clone(),
            each(&|f| Some(f.row.version.clone()).filter(|v| !v.is_empty())),
        ));
        found.push((
            "ports",
            key.clone(),
            each(&|f| Some(f.row.listen.join(", "))),
        ));
        let packages: std::collections::BTreeSet<&String> = members
            .iter()
            .flat_map(|i| &facts[*i].own_packages)
            .collect();
        for p in packages {
            found.push((
                "package",
                p.clone(),
                each(&|f| {
                    let installed = f.host_packages.as_ref()?;
                    Some(installed.get(p).cloned().unwrap_or_else(absent))
                }),
            ));
        }
        let configs: std::collections::BTreeSet<&String> = members
            .iter()
            .filter_map(|i| facts[*i].config.as_ref())
            .flat_map(|c| c.keys())
            .collect();
        for path in configs {
            found.push((
                "config",
                path.clone(),
                each(&|f| {
                    let config = f.config.as_ref()?;
                    Some(match config.get(path) {
                        Some(Some(d)) => format!("sha256:{}", &d[..SHORT_DIGEST.min(d.len())]),
                        Some(None) => "unreadable".to_string(),
                        None => absent(),
                    })
                }),
            ));
        }
        for (kind, subject, by_value) in found {
            let compared: usize = by_value.values().map(Vec::len).sum();
            if by_value.len() < 2 || compared < 2 {
                continue;
            }
            // Only the instances that were compared take part (not a host without files).
            let compared: std::collections::BTreeSet<&String> =
                by_value.values().flatten().collect();
            for (i, label) in members.iter().zip(&labels) {
                if compared.contains(label) {
                    facts[*i].row.differs.push(format!("{kind} {subject}"));
                }
            }
            let without_files: std::collections::BTreeSet<&String> = members
                .iter()
                .zip(&labels)
                .filter(|(i, _)| facts[**i].row.contents == "none")
                .map(|(_, label)| label)
                .collect();
            let mut variants: Vec<Variant> = by_value
                .into_iter()
                .map(|(value, hosts)| Variant {
                    value,
                    inventory_only: hosts
                        .iter()
                        .filter(|h| without_files.contains(h))
                        .cloned()
                        .collect(),
                    hosts,
                })
                .collect();
            variants.sort_by(|a, b| {
                b.hosts
                    .len()
                    .cmp(&a.hosts.len())
                    .then(a.value.cmp(&b.value))
            });
            out.push(Difference {
                app: key.clone(),
                kind: kind.to_string(),
                subject,
                variants,
            });
        }
    }
    out
}

fn absent() -> String {
    "absent".to_string()
}

/// How each member is named in a variant: its hostname, with the app (and the snapshot file) added
/// only where that is needed to tell two members apart.
fn labels(facts: &[AppFacts], members: &[usize]) -> Vec<String> {
    let count = |label: &dyn Fn(&AppFacts) -> String, of: &AppFacts| {
        members
            .iter()
            .filter(|j| label(&facts[**j]) == label(of))
            .count()
    };
    let host = |f: &AppFacts| f.row.hostname.clone();
    let host_app = |f: &AppFacts| format!("{}/{}", f.row.hostname, f.row.app);
    let file_app = |f: &AppFacts| format!("{}/{}", f.row.file, f.row.app);
    members
        .iter()
        .map(|i| {
            let f = &facts[*i];
            if count(&host, f) == 1 {
                host(f)
            } else if count(&host_app, f) == 1 {
                host_app(f)
            } else {
                file_app(f)
            }
        })
        .collect()
}
