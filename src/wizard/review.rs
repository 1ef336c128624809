//! What the wizard shows before it asks: the applications found, and for each planned one what
//! its image will hold, grouped so a person can take it in at a glance and expand a group.

use crate::analyze::Candidate;
use crate::plan::{AppPlan, Fit, Role, VolumeKind};
use std::collections::BTreeMap;

pub const ROLES: [Role; 5] = [
    Role::Code,
    Role::Config,
    Role::State,
    Role::Log,
    Role::Secret,
];

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Code => "code",
        Role::Config => "config",
        Role::State => "state",
        Role::Log => "log",
        Role::Secret => "secret",
    }
}

pub fn fit_name(fit: Fit) -> &'static str {
    match fit {
        Fit::Good => "good",
        Fit::Partial => "partial",
        Fit::Poor => "poor",
    }
}

/// One line per application, columns aligned: name, pids, user, ports, unit, fit.
pub fn candidate_label(c: &Candidate, fit: Option<Fit>) -> String {
    let pids: Vec<String> = c.pids.iter().map(i32::to_string).collect();
    let ports: Vec<&str> = c.listen.iter().map(String::as_str).collect();
    format!(
        "{:<18} pids {:<16} user {:<10} listens {:<26} unit {:<22} fit {}",
        c.name,
        clip(&pids.join(","), 16),
        clip(&c.user, 10),
        clip(
            &if ports.is_empty() {
                "-".to_string()
            } else {
                ports.join(",")
            },
            26
        ),
        clip(c.unit.as_deref().unwrap_or("-"), 22),
        fit.map_or("?", fit_name),
    )
}

pub fn role_counts(app: &AppPlan) -> BTreeMap<Role, usize> {
    let mut counts = BTreeMap::new();
    for f in &app.files {
        *counts.entry(f.role).or_insert(0) += 1;
    }
    counts
}

/// Files that look like secrets: the plan's secret mounts and files with role `secret`.
pub fn secrets(app: &AppPlan) -> Vec<String> {
    let mut out: Vec<String> = app
        .secrets
        .iter()
        .map(|s| format!("{}  ({}: {})", s.path, s.kind, s.why))
        .collect();
    out.extend(
        app.files
            .iter()
            .filter(|f| f.role == Role::Secret)
            .filter(|f| !app.secrets.iter().any(|s| s.path == f.path))
            .map(|f| format!("{}  ({})", f.path, f.why.join("; "))),
    );
    out
}

pub fn summary(app: &AppPlan) -> String {
    let img = &app.image;
    let mut s = format!(
        "\n── {}{} · analyzer {} · fit {}\n",
        app.name,
        if app.version.is_empty() {
            String::new()
        } else {
            format!(" · version {}", app.version)
        },
        app.analyzer,
        fit_name(app.fit)
    );
    for r in &app.fit_reasons {
        s.push_str(&format!("   fit: {r}\n"));
    }
    let pids: Vec<String> = app.processes.iter().map(|p| p.pid.to_string()).collect();
    s.push_str(&format!(
        "   processes {} · unit {}\n",
        pids.join(","),
        app.unit.as_deref().unwrap_or("-")
    ));
    s.push_str(&format!("   image      {}\n", img.name));
    s.push_str(&format!("   entrypoint {}\n", words(&img.entrypoint)));
    s.push_str(&format!(
        "   user       {} ({}:{})\n",
        img.user, img.uid, img.gid
    ));
    s.push_str(&format!("   ports      {}\n", list(&img.ports)));
    let counts = role_counts(app);
    let by_role: Vec<String> = ROLES
        .iter()
        .map(|r| format!("{} {}", role_name(*r), counts.get(r).copied().unwrap_or(0)))
        .collect();
    s.push_str(&format!(
        "   files      {} taken from the host ({}), {} written by liftkit, {} links, {} dirs\n",
        app.files.len(),
        by_role.join(", "),
        app.generated.len(),
        app.links.len(),
        app.dirs.len()
    ));
    for v in &app.volumes {
        let what = match v.kind {
            VolumeKind::Volume if v.populate => "volume, populated from the host",
            VolumeKind::Volume => "volume, starts empty",
            VolumeKind::Tmpfs => "tmpfs",
        };
        s.push_str(&format!("   volume     {} ({what}): {}\n", v.path, v.why));
    }
    let secrets = secrets(app);
    if secrets.is_empty() {
        s.push_str("   secrets    none found\n");
    }
    for x in secrets {
        s.push_str(&format!("   secret     {x}\n"));
    }
    for f in app.findings.iter().filter(|f| f.is_guess()) {
        let what = f.message.trim_start_matches(crate::findings::GUESSED);
        s.push_str(&format!("   guessed    {what}\n"));
    }
    let warnings = app
        .findings
        .iter()
        .filter(|f| f.level >= crate::findings::Level::Warning)
        .count();
    s.push_str(&format!(
        "   findings   {} in the plan ({warnings} warnings or errors; the build may add its own, \
         all in report.html)\n",
        app.findings.len()
    ));
    s
}

/// The files of one role, each with why it is there and the package that owns it.
pub fn files_of(app: &AppPlan, role: Role) -> String {
    let mut s = format!("   {} files of {}:\n", role_name(role), app.name);
    for f in app.files.iter().filter(|f| f.role == role) {
        let pkg = f
            .package
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        s.push_str(&format!("     {}{pkg}  ← {}\n", f.path, reasons(&f.why)));
    }
    s
}

pub fn generated_of(app: &AppPlan) -> String {
    let mut s = format!("   written by liftkit for {}:\n", app.name);
    for g in &app.generated {
        s.push_str(&format!("     {}  ← {}\n", g.path, g.why));
    }
    for l in &app.links {
        s.push_str(&format!("     {} → {}  ← {}\n", l.path, l.target, l.why));
    }
    for d in &app.dirs {
        s.push_str(&format!("     {}/  ← {}\n", d.path, d.why));
    }
    s
}

pub fn findings_of(app: &AppPlan) -> String {
    let mut s = format!("   findings for {}:\n", app.name);
    for f in &app.findings {
        s.push_str(&format!("     {f}\n"));
    }
    s
}

/// Shell words joined so they read (and split back) as typed.
pub fn words(w: &[String]) -> String {
    shlex::try_join(w.iter().map(String::as_str)).unwrap_or_else(|_| w.join(" "))
}

/// The first reason, and how many more the plan holds: a shared library has dozens.
fn reasons(why: &[String]) -> String {
    match why {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more in the plan)", rest.len()),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}
