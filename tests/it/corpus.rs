//! The generic corpus: services and runtimes from Debian's archive that no analyzer knows, each
//! started as a legacy host runs it, probed, lifted by pid with no analyzer (and its trial run),
//! stopped (its port checked closed), run from its image with run.sh, and probed again: the
//! same answer. The six analyzed stacks lift the same way with `--generic` (generic_stacks.rs).

use crate::common::*;
use liftkit::bench::testbed::{self, Lifted, Request};

/// A lift's outcome and the directory it was made in, removed when the test is done with it.
pub struct Kept {
    lifted: Lifted,
    _work: tempfile::TempDir,
}

impl std::ops::Deref for Kept {
    type Target = Lifted;
    fn deref(&self) -> &Lifted {
        &self.lifted
    }
}

pub fn lift(service: &str, generic: bool) -> Kept {
    let svc = testbed::service(service).expect("a testbed service");
    let work = public_tempdir();
    let req = Request {
        liftkit: std::path::Path::new(env!("CARGO_BIN_EXE_liftkit")),
        engine: ENGINE,
        run_flags: ENGINE_RUN_FLAGS,
        generic,
        extra_args: &[],
    };
    let r = testbed::lift_and_compare(svc, work.path(), &req)
        .unwrap_or_else(|e| panic!("{service}: {e}"));
    assert!(
        r.lifted,
        "{service}: not lifted: {:?}\n{}",
        r.why, r.lift_log
    );
    assert!(
        r.same,
        "{service}: the image answers {:?}, the original {:?}: {:?}\nlift:\n{}",
        r.after, r.before, r.why, r.lift_log
    );
    let trial = r
        .app_dir
        .as_ref()
        .map(|d| d.join("trial.json"))
        .filter(|p| p.exists());
    assert!(
        trial.is_some(),
        "{service}: the lift ran its trial:\n{}",
        r.lift_log
    );
    // It answered hardened, as run.sh runs it: read-only root, every capability dropped but
    // the plan's, no new privileges (the engine's own view, podman inspect).
    let seen = r
        .hardening
        .as_ref()
        .expect("the running container was inspected");
    let kept = r.kept.clone().expect("a hardened plan");
    assert!(seen.read_only_root, "{service}: read-only root: {seen:?}");
    assert!(seen.no_new_privileges, "{service}: no-new-privileges");
    assert_eq!(
        seen.capabilities, kept,
        "{service}: the plan's capabilities only"
    );
    eprintln!(
        "table: {service} | {} | {} | {} syscalls | same",
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(", ")
        },
        r.placements.join(", "),
        r.profile_syscalls
    );
    Kept {
        lifted: r,
        _work: work,
    }
}

#[test]
fn memcached_started_with_dash_d() {
    let r = lift("memcached", false);
    assert!(r.before.contains("STAT maxconns 321"), "{}", r.before);
}

#[test]
fn lighttpd_with_its_docroot_in_its_config() {
    lift("lighttpd", false);
}

#[test]
fn dnsmasq_daemonizing_by_default() {
    lift("dnsmasq", false);
}

#[test]
fn tinyproxy_with_its_stats_template() {
    lift("tinyproxy", false);
}

#[test]
fn squid_whose_error_page_changes_by_itself() {
    let r = lift("squid", false);
    let dir = r.app_dir.clone().unwrap();
    let trial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trial.json")).unwrap()).unwrap();
    // The page is stamped with the time: the trial tells the lines the original changes itself
    // from the rest, and the rest is the same.
    assert_eq!(trial["verdict"], "same", "{trial:#}");
    assert!(
        trial["probes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["varying_lines"].as_u64().is_some_and(|n| n >= 1)),
        "{trial:#}"
    );
    // /etc/services as netbase installed it names kpasswd: the distribution's file, no secret.
    let plan = std::fs::read_to_string(dir.join("plan.yaml")).unwrap();
    assert!(
        !plan.contains("kpasswd"),
        "a pristine packaged file is not scanned into a secret:\n{plan}"
    );
    assert!(layer_paths(&dir)
        .iter()
        .any(|p| p.ends_with("etc/services")));
}

#[test]
fn haproxy_started_with_dash_capital_d() {
    lift("haproxy", false);
}

#[test]
fn mosquitto_with_its_password_file() {
    let r = lift("mosquitto", false);
    assert!(
        r.before.contains("right password: CONNACK 0"),
        "{}",
        r.before
    );
}

#[test]
fn sshd_with_its_host_key_as_a_secret() {
    let r = lift("sshd", false);
    let dir = r.app_dir.clone().unwrap();
    let plan = std::fs::read_to_string(dir.join("plan.yaml")).unwrap();
    assert!(
        plan.contains("ssh_host_ed25519_key"),
        "the host key is in the plan:\n{plan}"
    );
    assert!(
        !layer_paths(&dir)
            .iter()
            .any(|p| p.ends_with("ssh_host_ed25519_key")),
        "the host key is a secret, mounted by run.sh, not baked"
    );
}

#[test]
fn mariadb_with_its_data_directory() {
    lift("mariadb", false);
}

#[test]
fn named_with_its_zone_file() {
    lift("named", false);
}

#[test]
fn node_app_run_from_its_directory() {
    lift("node", false);
}

#[test]
fn perl_app_with_use_lib() {
    lift("perl", false);
}

#[test]
fn ruby_app_with_require_relative() {
    lift("ruby", false);
}

#[test]
fn php_builtin_server_with_its_docroot() {
    lift("php", false);
}

#[test]
fn caddy_a_go_binary_serving_a_directory() {
    lift("caddy", false);
}

#[test]
fn vendor_daemon_started_by_its_wrapper_script() {
    let r = lift("vendor", false);
    assert!(r.after.contains("carried on from its state"), "{}", r.after);
}

#[test]
fn python_app_started_through_a_shim() {
    lift("python", false);
}
