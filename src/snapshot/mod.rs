//! The inventory of one host, as `collect` writes it to `snapshot.json`.
//!
//! Everything later stages know about processes, sockets, users and packages comes from here, so a
//! snapshot taken on a customer's server can be analyzed anywhere. File contents are not in it: they
//! are read through [`crate::host::Host`] from the live root or from a bundle beside the snapshot.

pub mod collect;
pub mod declared;
mod load;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use load::{load, parse, save, LoadError};

/// Bumped on any change that an older reader would misread.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub schema: u32,
    pub liftkit_version: String,
    /// RFC 3339, UTC. Informational only: nothing downstream depends on it.
    pub collected_at: String,
    pub host: HostInfo,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub processes: Vec<Process>,
    #[serde(default)]
    pub sockets: Vec<Socket>,
    /// Established TCP connections each process holds: how applications on one host talk.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// Set by `collect --bundle`: a directory, relative to the snapshot file, holding the files the
    /// applications need laid out as on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The applications the bundle holds files for (`collect --bundle --app X`), by the pid of
    /// each one's first process: what a later `analyze` of this snapshot plans by default, since
    /// only their files travelled. Empty: every application's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundle_pids: Vec<i32>,
    /// The host's memory and disks, to set a lifted app's size against (absent in snapshots
    /// taken before it was recorded, or by tools that do not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Answers the running applications gave to the analyzers' read-only live queries (redis
    /// `INFO server` names its config file, which its rewritten command line no longer shows).
    #[serde(default)]
    pub facts: Vec<Fact>,
    /// Set when the snapshot was taken from a powered-off disk image (`collect --disk`): the
    /// image's path. Its processes are then declared, not observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    #[serde(default)]
    pub findings: Vec<crate::findings::Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub pid: i32,
    pub analyzer: String,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// `MemTotal`, KiB.
    #[serde(default)]
    pub memory_kib: u64,
    /// Filesystems on block devices, one per device.
    #[serde(default)]
    pub filesystems: Vec<Filesystem>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    pub device: String,
    pub mount: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
}

impl Capacity {
    /// Bytes used on all the host's disks.
    pub fn disk_used_bytes(&self) -> u64 {
        self.filesystems.iter().map(|f| f.used_bytes).sum()
    }

    pub fn disk_size_bytes(&self) -> u64 {
        self.filesystems.iter().map(|f| f.size_bytes).sum()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    pub hostname: String,
    /// `/etc/os-release` keys, e.g. `ID`, `VERSION_ID`, `PRETTY_NAME`.
    #[serde(default)]
    pub os_release: BTreeMap<String, String>,
    pub kernel: String,
    pub arch: String,
    /// `/proc/cmdline` of the source host, for boot parameters a tailored host may carry over.
    #[serde(default)]
    pub boot_cmdline: String,
    /// Selected sysctls an application may depend on (`net.core.somaxconn`, …), by dotted name.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// x86-64 micro-architecture level of the CPU (1–4), 0 when unknown or not x86-64.
    #[serde(default)]
    pub cpu_level: u8,
    /// IPv4 addresses with prefix of non-loopback interfaces, e.g. `10.0.0.5/24`.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// SELinux on the source (`enforcing (targeted); files labelled (…)`), empty without it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selinux: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// The `/etc/passwd` line as found, so an image gets it unchanged.
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    #[serde(default)]
    pub members: Vec<String>,
    pub line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// dpkg's Installed-Size, in KiB.
    #[serde(default)]
    pub installed_kib: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
    /// Target of `/proc/PID/exe`; `None` where the kernel refused to tell.
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub cwd: Option<String>,
    /// `KEY=VALUE` pairs as the process holds them, in their original order.
    #[serde(default)]
    pub environ: Vec<String>,
    /// Real, effective, saved and filesystem ids, as in `/proc/PID/status`.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Supplementary groups.
    #[serde(default)]
    pub groups: Vec<u32>,
    /// The systemd unit from the process's cgroup (`nginx.service`), if any.
    pub unit: Option<String>,
    #[serde(default)]
    pub cgroup: String,
    /// Clock ticks since boot, to order processes and detect pid reuse.
    pub start_time: u64,
    #[serde(default)]
    pub fds: Vec<OpenFile>,
    /// Distinct file paths mapped into memory (libraries, including ones loaded with dlopen).
    #[serde(default)]
    pub maps: Vec<String>,
    /// Resource limits by `/proc/PID/limits` name (`Max open files`): soft, hard; `None` = unlimited.
    #[serde(default)]
    pub limits: BTreeMap<String, (Option<u64>, Option<u64>)>,
    /// Effective capabilities bitmask.
    #[serde(default)]
    pub cap_eff: u64,
    /// Whatever could not be read for this process (permission, vanished mid-read).
    #[serde(default)]
    pub unreadable: Vec<String>,
    /// Set for a process that is not running but *declared*: what a powered-off disk says would
    /// run (an enabled unit, a runlevel link, a cron `@reboot` line, an installed package), and
    /// where it says so. Its facts come from that declaration, not from the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OpenFile {
    pub fd: i32,
    /// The link target: a path, or `socket:[inode]`, `pipe:[…]`, `anon_inode:…`.
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Socket {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub proto: String,
    pub address: String,
    pub port: u16,
    pub inode: u64,
    pub uid: u32,
    /// Processes holding the socket open, found through their descriptors.
    #[serde(default)]
    pub pids: Vec<i32>,
}

/// One established TCP connection as one process holds it (each end on the host is listed
/// for its own holder).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub pid: i32,
    /// `127.0.0.1:41234`, `[::1]:41234`
    pub local: String,
    /// `127.0.0.1:6379`
    pub remote: String,
}

impl Snapshot {
    pub fn process(&self, pid: i32) -> Option<&Process> {
        self.processes.iter().find(|p| p.pid == pid)
    }

    pub fn user_by_uid(&self, uid: u32) -> Option<&User> {
        self.users.iter().find(|u| u.uid == uid)
    }

    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn group_by_gid(&self, gid: u32) -> Option<&Group> {
        self.groups.iter().find(|g| g.gid == gid)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Listening sockets held by any of `pids`.
    pub fn sockets_of<'a>(&'a self, pids: &'a [i32]) -> impl Iterator<Item = &'a Socket> + 'a {
        self.sockets
            .iter()
            .filter(move |s| s.pids.iter().any(|p| pids.contains(p)))
    }
}

impl Process {
    pub fn env(&self, key: &str) -> Option<&str> {
        self.environ.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }
}
