//! The inventory of a host that is not running (a powered-off VM's disk, mounted read-only): the
//! same snapshot as a live collect, from files alone. Accounts, packages and the OS come from the
//! disk; processes are the ones it declares ([`crate::snapshot::declared`]); sockets, kernel
//! state and sysctls do not exist until it boots.

use super::{accounts, dpkg, rpm, system};
use crate::analyze::spec::Analyzer;
use crate::findings::Finding;
use crate::host::Host;
use crate::snapshot::{declared, HostInfo, Snapshot, SCHEMA_VERSION};
use std::path::Path;

/// `local_root` is where the disk's root is mounted, for what only the mount shows (xattrs).
pub fn collect(host: &dyn Host, local_root: &Path, analyzers: &[Analyzer], disk: &str) -> Snapshot {
    let mut findings = vec![Finding::info(
        disk,
        format!(
            "collected from {}: processes are declared (what would run at boot), not observed",
            host.describe()
        ),
    )];
    let text = |p: &str| host.read_to_string(Path::new(p));
    let note = |p: &str, findings: &mut Vec<Finding>| match text(p) {
        Ok(t) => Some(t),
        Err(e) => {
            findings.push(Finding::warning(
                p,
                format!("could not be read from the disk: {e}"),
            ));
            None
        }
    };
    let users = note("/etc/passwd", &mut findings)
        .map(|t| accounts::parse_passwd(&t, &mut findings))
        .unwrap_or_default();
    let groups = note("/etc/group", &mut findings)
        .map(|t| accounts::parse_group(&t, &mut findings))
        .unwrap_or_default();
    let mut packages = dpkg::read_status(&|p| host.read_to_string(p), &mut findings);
    packages.extend(rpm::packages(host, &mut findings));
    let os_release = text("/etc/os-release")
        .or_else(|_| text("/usr/lib/os-release"))
        .map(|t| system::parse_os_release(&t))
        .unwrap_or_default();
    let hostname = text("/etc/hostname")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            let net = text("/etc/sysconfig/network").ok()?;
            net.lines().find_map(|l| {
                l.strip_prefix("HOSTNAME=")
                    .map(|h| h.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "unknown".to_string());
    let processes = declared::processes(host, &users, &groups, &packages, analyzers, &mut findings);
    Snapshot {
        schema: SCHEMA_VERSION,
        liftkit_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: crate::timefmt::now_rfc3339(),
        host: HostInfo {
            hostname,
            os_release,
            kernel: newest_kernel(host),
            arch: arch(host),
            selinux: super::selinux::describe(local_root),
            ..HostInfo::default()
        },
        users,
        groups,
        packages,
        processes,
        sockets: Vec::new(),
        connections: Vec::new(),
        bundle: None,
        bundle_pids: Vec::new(),
        // The disk is there to measure; the memory the VM had is not written on it.
        capacity: Some(super::capacity::of_mounted(disk, local_root)),
        facts: Vec::new(),
        disk: Some(disk.to_string()),
        findings,
    }
}

/// The kernel the disk would boot: the newest module tree it holds.
fn newest_kernel(host: &dyn Host) -> String {
    let mut k: Vec<String> = ["/lib/modules", "/usr/lib/modules"]
        .iter()
        .flat_map(|d| host.read_dir(Path::new(d)).unwrap_or_default())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    k.sort();
    k.pop().unwrap_or_default()
}

/// The machine the disk's programs are built for, from the ELF header of its shell.
fn arch(host: &dyn Host) -> String {
    let Ok(b) = host.read_limited(Path::new("/bin/sh"), 20) else {
        return String::new();
    };
    match b.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]])) {
        Some(0x3e) => "x86_64",
        Some(0xb7) => "aarch64",
        Some(0x03) => "i686",
        Some(0x15) => "ppc64le",
        Some(0x16) => "s390x",
        _ => "",
    }
    .to_string()
}
