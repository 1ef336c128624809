//! OCI bundles: the app's `config.json`, written from its `linuxkit.yml` service entry so the
//! offline host runs it exactly as LinuxKit would.

use crate::build::linuxkit::schema::{Id, Image};
use serde_json::{json, Value};

/// What runc and podman grant when a config names no capabilities (LinuxKit does the same with
/// its own default list): the app is not weaker here than under `run.sh`.
const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn id(v: &Option<Id>) -> u32 {
    match v {
        Some(Id::Number(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

/// `nofile,20000,20000` → an OCI rlimit.
fn rlimit(text: &str) -> Option<Value> {
    let mut parts = text.split(',').map(str::trim);
    let name = parts.next()?.to_ascii_uppercase();
    let soft: u64 = parts.next()?.parse().ok()?;
    let hard: u64 = parts.next().map_or(Some(soft), |h| h.parse().ok())?;
    let name = name.strip_prefix("RLIMIT_").unwrap_or(&name).to_string();
    Some(json!({"type": format!("RLIMIT_{name}"), "soft": soft, "hard": hard}))
}

fn base_mounts() -> Vec<Value> {
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

/// `config.json` for the app's service entry; the root is `rootfs/` (an overlay init mounts).
pub fn service_config(s: &Image) -> Value {
    let caps: Vec<String> = s
        .capabilities
        .clone()
        .unwrap_or_else(|| DEFAULT_CAPS.iter().map(|c| c.to_string()).collect());
    let mut mounts = base_mounts();
    for bind in s.binds.iter().flatten() {
        let mut parts = bind.splitn(3, ':');
        let (Some(src), Some(dst)) = (parts.next(), parts.next()) else {
            continue;
        };
        let ro = parts
            .next()
            .is_some_and(|o| o.split(',').any(|x| x == "ro"))
            || dst == "/etc/resolv.conf";
        mounts.push(json!({
            "destination": dst, "type": "bind", "source": src,
            "options": ["rbind", if ro { "ro" } else { "rw" }],
        }));
    }
    for t in s.tmpfs.iter().flatten() {
        mounts.push(json!({"destination": t, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if s.net.as_deref() != Some("host") {
        namespaces.push(json!({"type": "network"}));
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": id(&s.uid), "gid": id(&s.gid)},
            "args": s.command.clone().unwrap_or_default(),
            "env": s.env.clone().unwrap_or_default(),
            "cwd": s.cwd.clone().unwrap_or_else(|| "/".to_string()),
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": s.rlimits.iter().flatten().filter_map(|r| rlimit(r)).collect::<Vec<_>>(),
            "noNewPrivileges": s.no_new_privileges.unwrap_or(false),
        },
        "root": {"path": "rootfs", "readonly": s.readonly.unwrap_or(false)},
        "hostname": s.name,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    })
}

/// JSON with a stable layout, as every liftkit artifact.
pub fn to_bytes(v: &Value) -> Vec<u8> {
    // `{:#}` is serde_json's pretty form, and a Value always has one.
    format!("{v:#}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Image {
        Image {
            name: "redis".to_string(),
            image: "localhost/liftkit/redis:7".to_string(),
            command: Some(vec!["/usr/bin/redis-server".to_string()]),
            binds: Some(vec![
                "/var/lib/liftkit/data:/srv/data".to_string(),
                "/etc/resolv.conf:/etc/resolv.conf".to_string(),
            ]),
            tmpfs: Some(vec!["/run".to_string()]),
            rlimits: Some(vec!["nofile,10032,10032".to_string()]),
            uid: Some(Id::Number(101)),
            gid: Some(Id::Number(102)),
            net: Some("host".to_string()),
            ..Image::default()
        }
    }

    #[test]
    fn follows_the_service_entry_and_is_a_valid_runtime_spec() {
        let v = service_config(&service());
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(v.clone()).expect("an OCI runtime spec");
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.user().uid(), 101);
        assert_eq!(process.args().as_ref().unwrap()[0], "/usr/bin/redis-server");
        let rl = &process.rlimits().as_ref().unwrap()[0];
        assert_eq!((rl.soft(), rl.hard()), (10032, 10032));
        let ns = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap();
        assert!(
            ns.iter().all(|n| format!("{:?}", n.typ()) != "Network"),
            "net: host"
        );
        let mounts = spec.mounts().as_ref().unwrap();
        let data = mounts
            .iter()
            .find(|m| m.destination().to_str() == Some("/srv/data"))
            .unwrap();
        assert_eq!(
            data.options().as_ref().unwrap(),
            &vec!["rbind".to_string(), "rw".to_string()]
        );
        let resolv = mounts
            .iter()
            .find(|m| m.destination().to_str() == Some("/etc/resolv.conf"))
            .unwrap();
        assert!(resolv
            .options()
            .as_ref()
            .unwrap()
            .contains(&"ro".to_string()));
        assert!(mounts.iter().any(
            |m| m.destination().to_str() == Some("/run") && m.typ().as_deref() == Some("tmpfs")
        ));
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(
            caps.len() > 5,
            "no capabilities named: the engines' defaults"
        );
    }
}
