//! Which capabilities a lifted app keeps: all are dropped, and each one added back names its
//! evidence. From the source host: a listening port below 1024, a root master whose workers run
//! as another user (setuid/setgid), files in its writable places that its workers' user owns
//! (the master chowns them), files root may read only with `CAP_DAC_*` (their owners and
//! modes), what its systemd unit grants, limited to what the process held (`CapEff`). From the trial run: a call refused with
//! EPERM/EACCES that a capability allows.

use crate::host::Host;
use crate::plan::{AppPlan, Hardening, Role, VolumeKind};
use crate::snapshot::{Process, Snapshot};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Capability names by bit number (linux/capability.h).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The names of the bits set in a `CapEff` mask.
pub fn names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            NAMES
                .get(bit)
                .map_or_else(|| format!("CAP_{bit}"), |n| n.to_string())
        })
        .collect()
}

fn bit(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// `CAP_NET_BIND_SERVICE` → `NET_BIND_SERVICE`, as Kubernetes spells capabilities.
pub fn short(name: &str) -> &str {
    name.strip_prefix("CAP_").unwrap_or(name)
}

/// Whether `name` is a capability this liftkit knows (a plan is edited by people).
pub fn known(name: &str) -> bool {
    bit(name).is_some()
}

/// What the source host shows about the app's processes.
pub struct HostEvidence<'a> {
    pub snapshot: &'a Snapshot,
    pub host: &'a dyn Host,
    pub procs: &'a [&'a Process],
    /// Capabilities its systemd unit names (AmbientCapabilities=, CapabilityBoundingSet=).
    pub unit_caps: &'a [String],
}

/// The capabilities the app needs, each with its reason, from the source host.
pub fn from_host(ev: &HostEvidence, app: &AppPlan, h: &mut Hardening) {
    let master = ev.procs[0];
    let pids: Vec<i32> = ev.procs.iter().map(|p| p.pid).collect();
    let root = master.uids[1] == 0;
    let all = (1u64 << NAMES.len()) - 1;
    h.source_capabilities = if root && master.cap_eff == 0 {
        Vec::new() // not read (a declared process, collect.sh): unknown, not none
    } else if master.cap_eff & all == all {
        vec!["ALL".to_string()]
    } else {
        names(master.cap_eff)
    };
    let mut low: Vec<String> = ev
        .snapshot
        .sockets_of(&pids)
        .filter(|s| s.port != 0 && s.port < 1024)
        .map(|s| format!("{}/{}", s.port, s.proto.trim_end_matches('6')))
        .collect();
    low.sort();
    low.dedup();
    if !low.is_empty() {
        h.grant(
            "CAP_NET_BIND_SERVICE",
            format!("listens on {}, below 1024", low.join(", ")),
        );
    }
    let workers: Vec<&&Process> = ev
        .procs
        .iter()
        .filter(|p| p.uids[1] != master.uids[1] || p.gids[1] != master.gids[1])
        .collect();
    if root {
        if let Some(w) = workers.first() {
            let user = user_name(ev.snapshot, w.uids[1]);
            h.grant(
                "CAP_SETUID",
                format!(
                    "the master (pid {}, root) runs its workers as {user} (pid {}): setuid",
                    master.pid, w.pid
                ),
            );
            h.grant(
                "CAP_SETGID",
                format!(
                    "the master (pid {}, root) runs its workers as {user}: setgid and setgroups",
                    master.pid
                ),
            );
            if let Some(owned) = owned_by_workers(ev.host, app, w.uids[1]) {
                h.grant(
                    "CAP_CHOWN",
                    format!(
                        "the master gives its workers' files to {user}: {user} owns {owned} on \
                         the source host"
                    ),
                );
            }
        }
        if workers.is_empty() {
            switches_later(ev.host, master, h);
        }
        dac(ev.host, app, master, h);
    }
    // The operator's own word: the unit grants it (limit_to_source drops what the process
    // did not hold, when its mask is known).
    for cap in ev.unit_caps.iter().filter(|c| known(c)) {
        h.grant(
            cap,
            "its systemd unit names it (AmbientCapabilities= or CapabilityBoundingSet=)",
        );
    }
    limit_to_source(master, h);
}

/// A root daemon with no worker of another user in the snapshot may still switch users later:
/// sshd runs each connection's process as the `sshd` user in a chroot, and a declared process
/// (a disk's unit) was never seen at all. Its program says so by what it imports from the C
/// library (its undefined dynamic symbols): `setuid`, `setgid`/`setgroups`, `chroot`.
fn switches_later(host: &dyn Host, master: &Process, h: &mut Hardening) {
    let Some(exe) = master.exe.as_deref() else {
        return;
    };
    let imported = imports(host, Path::new(exe));
    let uses = |calls: &[&'static str]| -> Option<&'static str> {
        calls.iter().find(|c| imported.contains(**c)).copied()
    };
    let program = Path::new(exe)
        .file_name()
        .map_or_else(|| exe.to_string(), |n| n.to_string_lossy().into_owned());
    let grants = [
        ("CAP_SETUID", uses(&["setuid", "setresuid", "setreuid"])),
        (
            "CAP_SETGID",
            uses(&["setgid", "setresgid", "setregid", "setgroups", "initgroups"]),
        ),
        ("CAP_SYS_CHROOT", uses(&["chroot"])),
    ];
    for (cap, call) in grants {
        if let Some(call) = call {
            h.grant(
                cap,
                format!(
                    "{program} runs as root and imports {call}(): it switches user (or root \
                     directory) itself, after start-up"
                ),
            );
        }
    }
}

/// The undefined dynamic symbols of an ELF file: the library calls it makes by name.
fn imports(host: &dyn Host, exe: &Path) -> std::collections::BTreeSet<String> {
    const MAX_ELF: u64 = 256 << 20;
    let Ok(bytes) = host.read_limited(exe, MAX_ELF) else {
        return Default::default();
    };
    let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
        return Default::default();
    };
    elf.dynsyms
        .iter()
        .filter(|s| s.st_shndx == 0 && s.st_name != 0)
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// Keeps only what the source process held: the lifted app needs no more than the original had.
fn limit_to_source(master: &Process, h: &mut Hardening) {
    let known_mask = master.uids[1] != 0 || master.cap_eff != 0;
    if !known_mask {
        return;
    }
    if let Some(grants) = h.capabilities.as_mut() {
        grants.retain(|g| bit(&g.name).is_some_and(|b| master.cap_eff & (1u64 << b) != 0));
    }
}

fn user_name(snap: &Snapshot, uid: u32) -> String {
    snap.user_by_uid(uid)
        .map_or_else(|| uid.to_string(), |u| u.name.clone())
}

/// A path in the app's writable places (its volumes, run-time directories and state files,
/// one level down) owned by the workers' user: the master hands those over with chown.
fn owned_by_workers(host: &dyn Host, app: &AppPlan, uid: u32) -> Option<String> {
    if uid == 0 {
        return None;
    }
    let places = app
        .volumes
        .iter()
        .map(|v| v.path.as_str())
        .chain(app.dirs.iter().map(|d| d.path.as_str()))
        .chain(
            app.files
                .iter()
                .filter(|f| matches!(f.role, Role::State | Role::Log))
                .map(|f| f.path.as_str()),
        );
    for place in places {
        if super::placement::shared_dir(place) {
            continue; // /run/lighttpd is another program's, not this app's
        }
        let path = Path::new(place);
        let mut candidates = vec![path.to_path_buf()];
        if let Ok(names) = host.list(path) {
            candidates.extend(names.iter().take(256).map(|n| path.join(n)));
        }
        for c in candidates {
            if host.lstat(&c).is_ok_and(|m| m.uid() == uid) {
                return Some(c.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// Root without `CAP_DAC_*` is bound by owners and modes like anyone: a file of the image it
/// must read that neither its group nor others may read needs `CAP_DAC_READ_SEARCH`; a
/// writable place it does not own and may not write needs `CAP_DAC_OVERRIDE`.
fn dac(host: &dyn Host, app: &AppPlan, master: &Process, h: &mut Hardening) {
    let mut groups = master.groups.clone();
    groups.push(master.gids[1]);
    let may = |path: &str, want: u32| -> Option<bool> {
        let m = host.stat(Path::new(path)).ok()?;
        if m.uid() == master.uids[1] {
            return Some(true);
        }
        let bits = if groups.contains(&m.gid()) {
            (m.mode() >> 3) & 0o7
        } else {
            m.mode() & 0o7
        };
        Some(bits & want == want)
    };
    let unreadable = app
        .files
        .iter()
        .filter(|f| f.role != Role::Secret)
        .find(|f| may(&f.path, 0o4) == Some(false));
    if let Some(f) = unreadable {
        h.grant(
            "CAP_DAC_READ_SEARCH",
            format!(
                "root reads {} on the source, which its owner and mode do not let it read",
                f.path
            ),
        );
    }
    let unwritable = app
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Volume)
        .map(|v| v.path.as_str())
        .find(|p| may(p, 0o3) == Some(false));
    if let Some(p) = unwritable {
        h.grant(
            "CAP_DAC_OVERRIDE",
            format!("root writes in {p} on the source, which its owner and mode do not let it"),
        );
    }
}

/// The capability that lets a call refused with `errno` succeed, by the call's name: what the
/// trial run saw refused. `uid` is the user the image runs as (a non-root user's EACCES on a
/// file is no capability's business).
pub fn for_refusal(call: &str, errno: &str, uid: u32) -> Option<&'static str> {
    let cap = match (call, errno) {
        ("setuid" | "setreuid" | "setresuid" | "setfsuid", "EPERM") => "CAP_SETUID",
        ("setgid" | "setregid" | "setresgid" | "setfsgid" | "setgroups", "EPERM") => "CAP_SETGID",
        ("chown" | "fchown" | "lchown" | "fchownat", "EPERM") => "CAP_CHOWN",
        ("bind", "EACCES") => "CAP_NET_BIND_SERVICE",
        ("chroot", "EPERM") => "CAP_SYS_CHROOT",
        ("mknod" | "mknodat", "EPERM") => "CAP_MKNOD",
        ("setpriority" | "sched_setscheduler" | "sched_setparam", "EPERM" | "EACCES") => {
            "CAP_SYS_NICE"
        }
        ("mlock" | "mlock2" | "mlockall", "EPERM") => "CAP_IPC_LOCK",
        ("chmod" | "fchmod" | "fchmodat" | "utimensat" | "utimes", "EPERM") => "CAP_FOWNER",
        ("setrlimit" | "prlimit64", "EPERM") => "CAP_SYS_RESOURCE",
        ("kill" | "tkill" | "tgkill", "EPERM") => "CAP_KILL",
        (
            "open" | "openat" | "openat2" | "stat" | "newfstatat" | "statx" | "access"
            | "faccessat" | "faccessat2" | "execve",
            "EACCES",
        ) if uid == 0 => "CAP_DAC_OVERRIDE",
        (
            "mkdir" | "mkdirat" | "unlink" | "unlinkat" | "rename" | "renameat" | "renameat2"
            | "rmdir" | "link" | "linkat" | "symlink" | "symlinkat",
            "EACCES",
        ) if uid == 0 => "CAP_DAC_OVERRIDE",
        _ => return None,
    };
    Some(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_masks_read_as_names() {
        assert_eq!(names(0x400), ["CAP_NET_BIND_SERVICE"]);
        assert_eq!(
            names(0b1100_0001),
            ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"]
        );
        assert_eq!(names(0x1ff_ffff_ffff).len(), 41);
        assert!(names(0).is_empty());
        assert_eq!(short("CAP_NET_RAW"), "NET_RAW");
    }

    #[test]
    fn refusals_map_to_the_capability_that_allows_them() {
        assert_eq!(for_refusal("setgroups", "EPERM", 0), Some("CAP_SETGID"));
        assert_eq!(
            for_refusal("bind", "EACCES", 33),
            Some("CAP_NET_BIND_SERVICE")
        );
        assert_eq!(for_refusal("fchown", "EPERM", 0), Some("CAP_CHOWN"));
        assert_eq!(for_refusal("openat", "EACCES", 0), Some("CAP_DAC_OVERRIDE"));
        // A non-root user refused a file: its owner and mode, not a capability.
        assert_eq!(for_refusal("openat", "EACCES", 33), None);
        // A read-only root is no capability's business either.
        assert_eq!(for_refusal("openat", "EROFS", 0), None);
    }
}
