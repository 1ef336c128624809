//! How the engine says it runs a container: read-only root, the capabilities in effect, no new
//! privileges, the seccomp profile. Verify keeps it with its verdict, so the record shows the
//! app was checked under the hardening run.sh applies.

use super::Engine;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inspected {
    pub read_only_root: bool,
    /// The effective set (podman's `EffectiveCaps`; docker: what was added after dropping all).
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    /// The profile's path, or `default` for the engine's own.
    pub seccomp: String,
}

pub fn inspect(engine: &Engine, name: &str) -> Option<Inspected> {
    let out = engine
        .cmd()
        .args(["inspect", "--format", "{{json .}}", name])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    // podman 4 prints a list of one even with --format; docker the object.
    Some(parse(if v.is_array() { &v[0] } else { &v }))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn parse(v: &serde_json::Value) -> Inspected {
    let host = &v["HostConfig"];
    let security = strings(&host["SecurityOpt"]);
    let mut capabilities = if v["EffectiveCaps"].is_array() {
        strings(&v["EffectiveCaps"])
    } else {
        strings(&host["CapAdd"])
    };
    capabilities.sort();
    Inspected {
        read_only_root: host["ReadonlyRootfs"].as_bool().unwrap_or(false),
        capabilities,
        no_new_privileges: security
            .iter()
            .any(|s| s.starts_with("no-new-privileges") && !s.ends_with("false")),
        seccomp: security
            .iter()
            .find_map(|s| {
                s.strip_prefix("seccomp=")
                    .or_else(|| s.strip_prefix("seccomp:"))
            })
            .unwrap_or("default")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn podman_and_docker_inspect_read_alike() {
        let podman = serde_json::json!({
            "EffectiveCaps": ["CAP_SETUID", "CAP_CHOWN"],
            "HostConfig": {"ReadonlyRootfs": true, "SecurityOpt": ["no-new-privileges", "seccomp=/out/app/seccomp.json"]}
        });
        let p = super::parse(&podman);
        assert!(p.read_only_root && p.no_new_privileges);
        assert_eq!(p.capabilities, ["CAP_CHOWN", "CAP_SETUID"]);
        assert_eq!(p.seccomp, "/out/app/seccomp.json");
        let docker = serde_json::json!({
            "HostConfig": {"ReadonlyRootfs": false, "CapAdd": ["CAP_NET_BIND_SERVICE"], "CapDrop": ["ALL"], "SecurityOpt": null}
        });
        let d = super::parse(&docker);
        assert!(!d.read_only_root && !d.no_new_privileges);
        assert_eq!(d.capabilities, ["CAP_NET_BIND_SERVICE"]);
        assert_eq!(d.seccomp, "default");
    }
}
