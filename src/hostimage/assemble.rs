//! The two trees a host image is made of: the system (everything the host runs: init, the OCI
//! runtime and its libraries, the app's bundle over its read-only layer, the kernel settings in
//! /etc/sysctl.d, init.conf), which becomes the read-only squashfs root, and the initramfs (init, the
//! kernel modules, init.conf), which mounts it.

use super::cpio::{Archive, Data};
use super::kernel::{Kernel, Module};
use super::{bundle, init, layer, runtime, HostImageError, Options};
use crate::build::linuxkit;
use crate::plan::{AppPlan, Plan};
use std::path::{Path, PathBuf};

pub struct Trees {
    pub system: Archive,
    pub initramfs: Archive,
    pub runtime: PathBuf,
    pub exposed: Vec<u16>,
}

pub fn trees(
    plan: &Plan,
    app: &AppPlan,
    app_dir: &Path,
    kernel: &Kernel,
    modules: &[Module],
    opts: &Options,
) -> Result<Trees, HostImageError> {
    let mut system = Archive::default();
    base_tree(&mut system);
    system.file("init", 0o755, 0, 0, Data::Bytes(init::BINARY.to_vec()));
    let runtime = runtime::add(opts.runtime.as_deref(), &mut system)?;
    let mut conf = format!(
        "# liftkit-init configuration, written by liftkit host-image\nhostname {}\nruntime {}\n",
        app.slug(),
        runtime.path.display()
    );
    let mut initramfs = Archive::default();
    initramfs_tree(&mut initramfs);
    for m in modules {
        let path = format!("lib/modules/{}/{}", kernel.release, m.rel);
        initramfs.file(&path, 0o644, 0, 0, Data::Bytes(m.bytes.clone()));
        conf.push_str(&format!("module /{path}\n"));
    }
    add_app(app, app_dir, &mut system)?;
    add_sysctl(plan, &mut system);
    conf.push_str(&format!(
        "service {} stop={} restart={}\n",
        app.slug(),
        app.image.stop_signal.as_deref().unwrap_or("SIGTERM"),
        linuxkit::tailor::restart(app)
    ));
    for v in linuxkit::tailor::volumes(app) {
        if !v.tmpfs {
            // What the image holds at the volume's path seeds it when init finds it new (no
            // data disk); a path the line cannot carry (whitespace) is left unseeded.
            let seed = format!(
                "/containers/services/{}/lower/{}",
                app.slug(),
                v.path.trim_start_matches('/')
            );
            let seed = if seed.contains(char::is_whitespace) {
                String::new()
            } else {
                format!(" {seed}")
            };
            conf.push_str(&format!(
                "volume {} {} {}{seed}\n",
                v.name, app.image.uid, app.image.gid
            ));
        }
    }
    let exposed = if opts.expose_loopback {
        loopback_ports(app)
    } else {
        Vec::new()
    };
    for p in &exposed {
        conf.push_str(&format!("expose {p}\n"));
    }
    for a in [&mut system, &mut initramfs] {
        a.file(
            "etc/liftkit/init.conf",
            0o644,
            0,
            0,
            Data::Bytes(conf.clone().into_bytes()),
        );
    }
    Ok(Trees {
        system,
        initramfs,
        runtime: runtime.source,
        exposed,
    })
}

/// Where the system image sits in the initramfs (liftkit-init's stage 1 mounts it from there).
pub const SYSTEM_IMAGE: &str = "system.img";

/// What the kernel and init's first stage need before the system image is mounted.
pub(super) fn initramfs_tree(a: &mut Archive) {
    a.file("init", 0o755, 0, 0, Data::Bytes(init::BINARY.to_vec()));
    for d in ["dev", "newroot"] {
        a.dir(d, 0o755, 0, 0);
    }
    // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
    a.char_device("dev/console", 0o600, 5, 1);
    a.char_device("dev/null", 0o666, 1, 3);
}

/// The read-only root: mount points for what init mounts, and resolv.conf pointing at the copy
/// init writes (from DHCP or the command line).
fn base_tree(a: &mut Archive) {
    for d in [
        "dev",
        "proc",
        "sys",
        "run",
        "tmp",
        "var",
        "root",
        "containers/onboot",
        "containers/services",
    ] {
        a.dir(d, if d == "tmp" { 0o1777 } else { 0o755 }, 0, 0);
    }
    a.symlink("etc/resolv.conf", "../run/resolv.conf", 0, 0);
}

fn add_app(app: &AppPlan, app_dir: &Path, a: &mut Archive) -> Result<(), HostImageError> {
    let service = linuxkit::service(app);
    let dir = format!("containers/services/{}", app.slug());
    layer::unpack(&app_dir.join("oci"), &format!("{dir}/lower"), a)?;
    a.dir(&format!("{dir}/rootfs"), 0o755, 0, 0);
    a.file(
        &format!("{dir}/config.json"),
        0o644,
        0,
        0,
        Data::Bytes(bundle::to_bytes(&bundle::service_config(&service))),
    );
    Ok(())
}

const SYSCTL_CONF: &str = "etc/sysctl.d/01-liftkit.conf";

fn add_sysctl(plan: &Plan, a: &mut Archive) {
    let sysctls = linuxkit::tailor::sysctls(plan);
    if sysctls.is_empty() {
        return;
    }
    let conf: String = sysctls
        .iter()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect();
    // No onboot container for them: liftkit-init applies /etc/sysctl.d itself before the
    // onboot containers (linuxkit.yml keeps LinuxKit's `sysctl` onboot for LinuxKit builds).
    a.file(SYSCTL_CONF, 0o644, 0, 0, Data::Bytes(conf.into_bytes()));
}

pub(super) fn is_loopback(listen: &str) -> bool {
    listen.starts_with("127.") || listen.starts_with("[::1]") || listen.starts_with("localhost:")
}

fn port_of(listen: &str) -> Option<u16> {
    listen.split('/').next()?.rsplit(':').next()?.parse().ok()
}

fn loopback_ports(app: &AppPlan) -> Vec<u16> {
    let mut ports: Vec<u16> = app
        .image
        .listen
        .iter()
        .filter(|l| is_loopback(l))
        .filter_map(|l| port_of(l))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

pub(super) fn guest_ports(app: &AppPlan) -> Vec<u16> {
    let mut ports: Vec<u16> = app
        .image
        .ports
        .iter()
        .filter(|p| p.ends_with("/tcp") || !p.contains('/'))
        .filter_map(|p| p.split('/').next()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert!(is_loopback("127.0.0.1:6379/tcp") && is_loopback("[::1]:80/tcp"));
        assert!(!is_loopback("0.0.0.0:80/tcp"));
        assert_eq!(port_of("127.0.0.1:6379/tcp"), Some(6379));
        assert_eq!(port_of("[::1]:80/tcp"), Some(80));
    }
}
