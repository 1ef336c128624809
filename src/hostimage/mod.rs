//! Offline host images: `liftkit host-image out/<app>/` writes a kernel, an initramfs and a
//! command line (LinuxKit's `kernel+initrd` output: `<app>-kernel`, `<app>-initrd.img`,
//! `<app>-cmdline`) and `run-qemu.sh`, from parts on this machine, with no registry and no
//! `linuxkit` CLI.
//!
//! The initramfs holds liftkit-init as `/init` (static, embedded in liftkit), the kernel modules
//! the host needs, the OCI runtime with its libraries, an onboot sysctl bundle, and the app as an
//! OCI bundle under `/containers/services/<app>/` whose `config.json` follows the app's
//! `linuxkit.yml` service entry. Its layout follows LinuxKit's (`/containers/onboot`,
//! `/containers/services`).

pub mod boot;
mod bundle;
pub mod cpio;
pub mod init;
pub mod kernel;
mod layer;
pub mod modules;
pub mod qemu;
mod runtime;
mod squashfs;
pub mod tool;

use crate::build::linuxkit;
use crate::plan::{AppPlan, Plan};
use cpio::{Archive, Data};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A vmlinuz; default: this machine's `/boot/vmlinuz-$(uname -r)`.
    pub kernel: Option<PathBuf>,
    /// Its `lib/modules/<version>` tree; default: `/lib/modules/<the kernel's version>`.
    pub modules: Option<PathBuf>,
    /// runc or crun; default: the first installed.
    pub runtime: Option<PathBuf>,
    /// Make loopback-only listeners reachable on the guest's address (see `forward` in init).
    pub expose_loopback: bool,
    /// Skip building `<app>-data.img` from `volumes/`.
    pub no_data_disk: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HostImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a lifted app's output (no plan.yaml and oci/): run `liftkit lift` or `liftkit build` first")]
    NotAnApp(PathBuf),
    #[error("no kernel at {path}{hint}: give one with --kernel PATH (a vmlinuz) and its modules with --modules DIR")]
    NoKernel { path: PathBuf, hint: String },
    #[error("no kernel modules at {0} (no modules.dep, modules.builtin or kernel/): give the kernel's lib/modules/<version> tree with --modules DIR")]
    NoModules(PathBuf),
    #[error("kernel {kernel} is release {version}, but {modules} holds another release's modules: give matching --kernel PATH and --modules DIR")]
    KernelMismatch {
        kernel: PathBuf,
        version: String,
        modules: PathBuf,
    },
    #[error("the kernel modules in {dir} lack {module} ({purpose}) and the kernel does not build it in: give a kernel that has it with --kernel PATH --modules DIR")]
    MissingModule {
        module: String,
        purpose: String,
        dir: PathBuf,
    },
    #[error("the kernel modules in {dir} lack {dependency}, which {module} depends on (its modinfo says so): give the whole lib/modules/<version> tree with --modules DIR")]
    MissingDependency {
        module: String,
        dependency: String,
        dir: PathBuf,
    },
    #[error("no OCI runtime: {0}: give runc or crun with --runtime PATH")]
    NoRuntime(String),
    #[error("{0}")]
    BadOutput(String),
    #[error("{0}")]
    Tool(String),
}

impl HostImageError {
    pub fn io(path: PathBuf, source: std::io::Error) -> Self {
        HostImageError::Io { path, source }
    }
}

/// What was written, for the summary, the report and the boot benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct HostImage {
    pub app: String,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: PathBuf,
    pub run_script: PathBuf,
    pub data_disk: Option<PathBuf>,
    pub kernel_release: String,
    pub kernel_bytes: u64,
    pub initrd_bytes: u64,
    /// The compressed system image inside the initrd.
    pub system_bytes: u64,
    /// Modules loaded at boot, in order.
    pub modules: Vec<String>,
    pub runtime: PathBuf,
    /// Loopback ports made reachable on the guest address.
    pub exposed: Vec<u16>,
    /// Guest TCP ports run-qemu.sh forwards by default.
    pub ports: Vec<u16>,
    pub warnings: Vec<String>,
}

/// Builds the host image of the app built in `app_dir` (`out/<app>/`), beside its output.
pub fn build(app_dir: &Path, opts: &Options) -> Result<HostImage, HostImageError> {
    let plan_path = app_dir.join("plan.yaml");
    if !plan_path.is_file() || !app_dir.join("oci/index.json").is_file() {
        return Err(HostImageError::NotAnApp(app_dir.to_path_buf()));
    }
    let plan = crate::plan::load(&plan_path)
        .map_err(|e| HostImageError::BadOutput(format!("{}: {e}", plan_path.display())))?;
    let app = plan.apps.first().ok_or_else(|| {
        HostImageError::BadOutput(format!("{}: no application", plan_path.display()))
    })?;
    let kernel = kernel::locate(opts.kernel.as_deref(), opts.modules.as_deref())?;
    let modules = kernel::modules(&kernel)?;
    let mut warnings = Vec::new();
    // The system image (mounted read-only as `/` by init) holds everything but what init needs
    // to mount it: itself, the kernel modules and its configuration stay in the initramfs.
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
    for m in &modules {
        let path = format!("lib/modules/{}/{}", kernel.release, m.rel);
        initramfs.file(&path, 0o644, 0, 0, Data::Bytes(m.bytes.clone()));
        conf.push_str(&format!("module /{path}\n"));
    }
    add_app(app, app_dir, &mut system)?;
    add_sysctl(&plan, &mut system);
    conf.push_str(&format!(
        "service {} stop={} restart={}\n",
        app.slug(),
        app.image.stop_signal.as_deref().unwrap_or("SIGTERM"),
        linuxkit::tailor::restart(app)
    ));
    let volumes = linuxkit::tailor::volumes(app);
    for v in &volumes {
        if !v.tmpfs {
            conf.push_str(&format!(
                "volume {} {} {}\n",
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
    let mtime = created(app_dir);
    let system_path = app_dir.join(format!(".{}-system.img", app.slug()));
    let system_bytes = squashfs::write(&system, &system_path, mtime)?;
    initramfs_tree(&mut initramfs);
    initramfs.file(SYSTEM_IMAGE, 0o444, 0, 0, Data::File(system_path.clone()));

    let slug = app.slug();
    let out = |suffix: &str| app_dir.join(format!("{slug}-{suffix}"));
    let kernel_out = out("kernel");
    std::fs::copy(&kernel.image, &kernel_out)
        .map_err(|e| HostImageError::io(kernel.image.clone(), e))?;
    let initrd = out("initrd.img");
    let initrd_bytes = write_initrd(&initramfs, &initrd, mtime);
    let _ = std::fs::remove_file(&system_path);
    let initrd_bytes = initrd_bytes?;
    let cmdline_path = out("cmdline");
    let cmdline = qemu::cmdline(&linuxkit::tailor::boot_params(&plan));
    std::fs::write(&cmdline_path, format!("{cmdline}\n"))
        .map_err(|e| HostImageError::io(cmdline_path.clone(), e))?;

    let data_disk = if volumes.iter().any(|v| !v.tmpfs) && !opts.no_data_disk {
        let image = out("data.img");
        match qemu::data_disk(&app_dir.join("volumes"), &image) {
            Ok(_) => Some(image),
            Err(e) => {
                warnings.push(format!(
                    "no data disk ({e}); the volumes will be tmpfs, empty and lost at power-off"
                ));
                None
            }
        }
    } else {
        if volumes.iter().any(|v| !v.tmpfs) {
            warnings.push("no data disk (--no-data-disk): the volumes will be tmpfs, empty and lost at power-off".to_string());
        }
        None
    };
    let ports = guest_ports(app);
    let script = app_dir.join("run-qemu.sh");
    let text = qemu::run_script(&qemu::Script {
        name: &slug,
        ports: ports.iter().map(|p| (*p, *p)).collect(),
        data_disk: data_disk.clone(),
    });
    std::fs::write(&script, text).map_err(|e| HostImageError::io(script.clone(), e))?;
    set_mode(&script, 0o755).map_err(|e| HostImageError::io(script.clone(), e))?;
    let loopback_only =
        !app.image.listen.is_empty() && app.image.listen.iter().all(|l| is_loopback(l));
    if loopback_only && !opts.expose_loopback {
        warnings.push(format!(
            "{} listens on loopback only ({}): inside the VM nothing outside reaches it; --expose-loopback makes it reachable on the guest address",
            app.name,
            app.image.listen.join(", ")
        ));
    }
    Ok(HostImage {
        app: app.name.clone(),
        kernel_bytes: file_len(&kernel_out),
        kernel: kernel_out,
        initrd,
        cmdline: cmdline_path,
        run_script: script,
        data_disk,
        kernel_release: kernel.release.clone(),
        initrd_bytes,
        system_bytes,
        modules: kernel::names(&modules),
        runtime: runtime.path,
        exposed,
        ports,
        warnings,
    })
}

/// Where the system image sits in the initramfs (liftkit-init's stage 1 mounts it from there).
pub const SYSTEM_IMAGE: &str = "system.img";

/// What the kernel and init's first stage need before the system image is mounted.
fn initramfs_tree(a: &mut Archive) {
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
    a.file(
        SYSCTL_CONF,
        0o644,
        0,
        0,
        Data::Bytes(conf.clone().into_bytes()),
    );
    let dir = "containers/onboot/000-sysctl";
    a.file(
        &format!("{dir}/rootfs/sysctl"),
        0o755,
        0,
        0,
        Data::Bytes(init::BINARY.to_vec()),
    );
    a.file(
        &format!("{dir}/rootfs/{SYSCTL_CONF}"),
        0o644,
        0,
        0,
        Data::Bytes(conf.into_bytes()),
    );
    for d in ["proc", "dev"] {
        a.dir(&format!("{dir}/rootfs/{d}"), 0o755, 0, 0);
    }
    let config = bundle::sysctl_config("/sysctl", &format!("/{SYSCTL_CONF}"));
    a.file(
        &format!("{dir}/config.json"),
        0o644,
        0,
        0,
        Data::Bytes(bundle::to_bytes(&config)),
    );
}

fn is_loopback(listen: &str) -> bool {
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

fn guest_ports(app: &AppPlan) -> Vec<u16> {
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

fn write_initrd(archive: &Archive, path: &Path, mtime: u32) -> Result<u64, HostImageError> {
    let file =
        std::fs::File::create(path).map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(std::io::BufWriter::new(file), flate2::Compression::best());
    archive
        .write(&mut gz, mtime)
        .map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    gz.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| HostImageError::io(path.to_path_buf(), e))?;
    Ok(file_len(path))
}

/// The image's creation time from build.json, so the same build gives the same initramfs.
fn created(app_dir: &Path) -> u32 {
    std::fs::read_to_string(app_dir.join("build.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["created"].as_i64())
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
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
