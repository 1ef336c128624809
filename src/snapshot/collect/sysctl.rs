//! The kernel tunables applications are known to depend on or warn about.
//!
//! They belong in the tailored host's configuration, not in the container image, so they are
//! recorded from the source host to be carried over.

use crate::findings::Finding;
use std::collections::BTreeMap;
use std::io::ErrorKind;

/// Dotted sysctl names, read from `/proc/sys`.
const SYSCTLS: &[&str] = &[
    "net.core.somaxconn",
    "vm.overcommit_memory",
    "net.ipv4.ip_local_port_range",
    "fs.file-max",
    "net.ipv4.tcp_max_syn_backlog",
    "kernel.shmmax",
    "vm.swappiness",
    "net.ipv4.ip_forward",
];

/// Settings outside `/proc/sys`, under the name they are recorded as. redis warns about THP.
const SYSFS: &[(&str, &str)] = &[(
    "transparent_hugepage",
    "/sys/kernel/mm/transparent_hugepage/enabled",
)];

pub fn read(findings: &mut Vec<Finding>) -> BTreeMap<String, String> {
    let sysctls = SYSCTLS
        .iter()
        .map(|name| (*name, format!("/proc/sys/{}", name.replace('.', "/"))));
    let sysfs = SYSFS.iter().map(|(name, path)| (*name, path.to_string()));
    let mut out = BTreeMap::new();
    for (name, path) in sysctls.chain(sysfs) {
        match std::fs::read_to_string(&path) {
            Ok(value) => {
                out.insert(name.to_string(), normalize(&value));
            }
            // A kernel built without the feature, or a container hiding it: nothing to carry.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => findings.push(Finding::info(path, format!("unreadable: {e}"))),
        }
    }
    out
}

/// Multi-valued sysctls are tab-separated in `/proc/sys`; single spaces are what `sysctl.conf`
/// and the `sysctl` tool write. THP keeps its `always [madvise] never` form: the brackets are the
/// value.
fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}
