//! What the tests check of every lifted app they run: the engine shows it hardened as its plan
//! says (read-only root, exactly the kept capabilities, no new privileges, the profile).

use super::podman;
use std::path::Path;

/// The engine's view of a running container.
#[derive(Debug)]
pub struct Hardened {
    pub read_only_root: bool,
    pub capabilities: Vec<String>,
    pub security_opt: Vec<String>,
}

pub fn inspect_hardening(container: &str) -> Hardened {
    let out = podman()
        .args(["inspect", "--format", "{{json .}}", container])
        .output()
        .expect("podman inspect");
    assert!(
        out.status.success(),
        "podman inspect {container}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // podman 4 prints a list of one even with --format.
    let v = if v.is_array() { v[0].clone() } else { v };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut capabilities = strings(&v["EffectiveCaps"]);
    capabilities.sort();
    Hardened {
        read_only_root: v["HostConfig"]["ReadonlyRootfs"].as_bool().unwrap_or(false),
        capabilities,
        security_opt: strings(&v["HostConfig"]["SecurityOpt"]),
    }
}

/// The capabilities the app's plan keeps, sorted.
pub fn kept_capabilities(app_dir: &Path) -> Vec<String> {
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let mut kept = plan.apps[0]
        .hardening
        .kept()
        .expect("a hardened plan names the capabilities it keeps");
    kept.sort();
    kept
}

/// Asserts the running `container` of `app_dir` runs as run.sh asked: read-only root, every
/// capability dropped but the plan's, no new privileges; returns the kept capabilities.
pub fn assert_hardened(app_dir: &Path, container: &str) -> Vec<String> {
    let seen = inspect_hardening(container);
    let kept = kept_capabilities(app_dir);
    assert!(
        seen.read_only_root,
        "{container}: root is not read-only: {seen:?}"
    );
    assert_eq!(
        seen.capabilities, kept,
        "{container}: the effective capabilities are the plan's kept ones"
    );
    assert!(
        seen.security_opt.iter().any(|o| o == "no-new-privileges"),
        "{container}: no-new-privileges: {seen:?}"
    );
    kept
}

/// Asserts the container runs under the app's own profile, seccomp.json beside run.sh.
pub fn assert_own_profile(app_dir: &Path, container: &str) {
    let seen = inspect_hardening(container);
    let profile = app_dir.join("seccomp.json");
    assert!(profile.is_file(), "{} exists", profile.display());
    assert!(
        seen.security_opt
            .iter()
            .any(|o| o.starts_with("seccomp=") && o.ends_with("/seccomp.json")),
        "{container} runs under its seccomp.json: {seen:?}"
    );
}

/// The number of system calls a profile allows.
pub fn profile_size(app_dir: &Path) -> usize {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_dir.join("seccomp.json")).unwrap())
            .unwrap();
    assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["defaultErrnoRet"], 1, "EPERM");
    v["syscalls"][0]["names"].as_array().unwrap().len()
}

/// Asserts verify's record of the engine's view (`podman inspect` of the container it ran
/// through run.sh): read-only root, exactly the plan's capabilities, no new privileges.
pub fn assert_verified_hardened(app_dir: &Path, verify: &serde_json::Value) -> Vec<String> {
    let h = &verify["hardening"];
    assert_eq!(
        h["read_only_root"], true,
        "verify ran it read-only: {verify:#}"
    );
    assert_eq!(h["no_new_privileges"], true, "{verify:#}");
    let seen: Vec<String> = h["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let kept = kept_capabilities(app_dir);
    assert_eq!(seen, kept, "verify ran it with the plan's capabilities");
    kept
}

/// A lift with `--seccomp` whose trial wrote the profile says nothing of a missing one: the
/// build's warning from before the trial is withdrawn, on stderr and in the report.
pub fn assert_no_stale_profile_warning(lift: &std::process::Output, app_dir: &Path) {
    let moot = "no system calls are known";
    let stderr = String::from_utf8_lossy(&lift.stderr);
    assert!(
        !stderr.contains(moot),
        "withdrawn after the trial:\n{stderr}"
    );
    let report = std::fs::read_to_string(app_dir.join("report.md")).unwrap();
    assert!(!report.contains(moot), "withdrawn from report.md too");
}
