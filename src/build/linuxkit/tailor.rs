//! What the source host tells about the host the app needs: which boot parameters and sysctls
//! matter, which capabilities, rlimits and binds the service gets. Shared by `linuxkit.yml` and the
//! offline host image, so both describe the same host.

use crate::plan::{volume_name, AppPlan, Plan, VolumeKind};
use std::collections::BTreeMap;

/// Where volumes live on the host: one directory per volume, on the data disk when there is one.
pub const VOLUMES_DIR: &str = "/var/lib/liftkit";

/// Boot parameters that change how an application behaves (memory, CPUs, mitigations), as
/// opposed to the ones describing the source machine (root disk, console, its own init).
const RELEVANT_BOOT_PARAMS: &[&str] = &[
    "transparent_hugepage",
    "hugepages",
    "hugepagesz",
    "default_hugepagesz",
    "mitigations",
    "isolcpus",
    "nohz_full",
    "numa_balancing",
    "ipv6.disable",
    "vsyscall",
    "cgroup_no_v1",
    "psi",
];

/// The source host's boot parameters worth carrying, as `key=value` words.
pub fn boot_params(plan: &Plan) -> Vec<String> {
    let mut params: Vec<String> = plan
        .source
        .boot_cmdline
        .split_whitespace()
        .take_while(|w| *w != "--")
        .filter(|w| {
            let key = w.split('=').next().unwrap_or_default();
            RELEVANT_BOOT_PARAMS.contains(&key)
        })
        .map(str::to_string)
        .collect();
    // The collector reads the THP mode from sysfs (`always [madvise] never`); the bracketed word
    // is the setting, and it is a boot parameter, not a sysctl.
    if let Some(mode) = plan
        .source
        .sysctls
        .get("transparent_hugepage")
        .and_then(|v| bracketed(v))
    {
        if !params
            .iter()
            .any(|p| p.starts_with("transparent_hugepage="))
        {
            params.push(format!("transparent_hugepage={mode}"));
        }
    }
    params
}

fn bracketed(v: &str) -> Option<&str> {
    let start = v.find('[')?;
    let end = v[start..].find(']')?;
    Some(&v[start + 1..start + end])
}

/// The source's sysctls that `sysctl -w` can set (dotted names under /proc/sys).
pub fn sysctls(plan: &Plan) -> BTreeMap<String, String> {
    plan.source
        .sysctls
        .iter()
        .filter(|(k, v)| {
            k.contains('.')
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                && !v.contains('\n')
        })
        .map(|(k, v)| {
            (
                k.clone(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

/// `nofile,20000,20000`: LinuxKit's rlimit syntax (name, soft, hard).
pub fn rlimits(app: &AppPlan) -> Vec<String> {
    app.image
        .rlimits
        .iter()
        .map(|(name, (soft, hard))| format!("{name},{soft},{hard}"))
        .collect()
}

/// Whether the app needs CA certificates on the host (it links or reads TLS material).
pub fn uses_tls(app: &AppPlan) -> bool {
    app.files.iter().any(|f| {
        f.path.starts_with("/etc/ssl/")
            || f.path
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("libssl.so"))
    })
}

/// Whether the app resolves host names (an NSS `hosts` module, resolv.conf or hosts among its
/// files): it then gets the host's `/etc/resolv.conf`.
pub fn resolves_names(app: &AppPlan) -> bool {
    app.files.iter().any(|f| {
        matches!(f.path.as_str(), "/etc/resolv.conf" | "/etc/hosts")
            || f.why.iter().any(|w| w.contains("NSS module for hosts"))
    })
}

/// A volume of the app as the host provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    /// Where the app sees it.
    pub path: String,
    /// `out/<app>/volumes/<name>` and the directory on the host's data disk.
    pub name: String,
    pub tmpfs: bool,
}

pub fn volumes(app: &AppPlan) -> Vec<HostVolume> {
    app.volumes
        .iter()
        .map(|v| HostVolume {
            path: v.path.clone(),
            name: volume_name(&v.path),
            tmpfs: v.kind == VolumeKind::Tmpfs,
        })
        .collect()
}

/// `always`, `on-failure` or `no`, as the plan says (default: on-failure).
pub fn restart(app: &AppPlan) -> &str {
    match app.image.restart.as_deref() {
        Some("always") | Some("unless-stopped") => "always",
        Some("no") | Some("never") => "no",
        _ => "on-failure",
    }
}
