//! Offline host images: `liftkit host-image out/<app>/ --format …` boots the app in a
//! LinuxKit-style host from parts on this machine, with no registry, no daemon, no `linuxkit`
//! CLI and no loop device: `kernel+initrd` (`<app>-kernel`, `<app>-initrd.img`,
//! `<app>-cmdline`), `iso`, `raw-bios`, `raw-efi`, `qcow2`, `vmdk` (see `format`), plus
//! `run-qemu.sh` and the data disk.
//!
//! The host is a read-only squashfs system image (init, the OCI runtime with its libraries, the
//! app as an OCI bundle under `/containers/services/<app>/` whose `config.json` follows the
//! app's `linuxkit.yml` service entry, its kernel settings in /etc/sysctl.d; LinuxKit's layout)
//! and a small initramfs (init, the kernel modules) whose init mounts it as `/`.

mod assemble;
pub mod boot;
mod bundle;
pub mod cpio;
pub mod debian_vm;
pub mod format;
pub mod init;
pub mod kernel;
mod layer;
pub mod modules;
pub mod own_kernel;
pub mod qemu;
mod runtime;
mod squashfs;
pub mod tool;

use crate::build::linuxkit;
use cpio::{Archive, Data};
pub use format::{Format, Written};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A vmlinuz; default: this machine's `/boot/vmlinuz-$(uname -r)`.
    pub kernel: Option<PathBuf>,
    /// Its `lib/modules/<version>` tree; default: `/lib/modules/<the kernel's version>`.
    pub modules: Option<PathBuf>,
    /// crun or runc; default: crun if installed, else runc.
    pub runtime: Option<PathBuf>,
    /// Make loopback-only listeners reachable on the guest's address (see `forward` in init).
    pub expose_loopback: bool,
    /// Skip building `<app>-data.img` from `volumes/`.
    pub no_data_disk: bool,
    /// What to write; empty: kernel+initrd.
    pub formats: Vec<Format>,
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
    #[error("kernel {kernel} has no EFI stub (it is not a PE image; CONFIG_EFI_STUB), which --format {format} needs to boot on EFI firmware: give a kernel built with it (--kernel PATH), or use --format raw-bios or kernel+initrd")]
    NoEfiStub { kernel: PathBuf, format: String },
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

/// What was written, for the summary, the report and the benchmarks.
#[derive(Debug, Clone, Serialize)]
pub struct HostImage {
    pub app: String,
    /// Every format written, with its size and sha256.
    pub written: Vec<Written>,
    pub run_script: PathBuf,
    pub data_disk: Option<PathBuf>,
    pub kernel_release: String,
    pub kernel_bytes: u64,
    /// The initrd with the system image inside (kernel+initrd and iso).
    pub initrd_bytes: u64,
    /// The compressed system image (a partition of its own on disk formats).
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

/// Scratch space beside the output, removed however the build ends.
struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    let mut formats = opts.formats.clone();
    if formats.is_empty() {
        formats.push(Format::KernelInitrd);
    }
    formats.sort();
    formats.dedup();
    let kernel = kernel::locate(opts.kernel.as_deref(), opts.modules.as_deref())?;
    format::check(&formats, &kernel)?;
    tool::find(tool::TAR2SQFS, formats[0].name())?;
    let modules = kernel::modules(&kernel)?;
    let work = Work(app_dir.join(".host-image.tmp"));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).map_err(|e| HostImageError::io(work.0.clone(), e))?;

    let mut trees = assemble::trees(&plan, app, app_dir, &kernel, &modules, opts)?;
    let mtime = created(app_dir);
    let system_path = work.0.join("system.img");
    let system_bytes = squashfs::write(&trees.system, &system_path, mtime)?;
    let system =
        std::fs::read(&system_path).map_err(|e| HostImageError::io(system_path.clone(), e))?;
    let disk_initrd =
        gzip(&trees.initramfs, mtime).map_err(|e| HostImageError::io(work.0.clone(), e))?;
    trees.initramfs.file(
        assemble::SYSTEM_IMAGE,
        0o444,
        0,
        0,
        Data::File(system_path.clone()),
    );
    let initrd =
        gzip(&trees.initramfs, mtime).map_err(|e| HostImageError::io(work.0.clone(), e))?;
    let cmdline = qemu::cmdline(&linuxkit::tailor::boot_params(&plan));
    let disk_cmdline = format!(
        "{cmdline} liftkit.system=hsqs:{}",
        hex::encode(&system[..96.min(system.len())])
    );
    let kernel_image =
        std::fs::read(&kernel.image).map_err(|e| HostImageError::io(kernel.image.clone(), e))?;

    let slug = app.slug();
    let out = |suffix: &str| app_dir.join(format!("{slug}-{suffix}"));
    let mut written = Vec::new();
    if formats.contains(&Format::KernelInitrd) {
        for (suffix, bytes) in [
            ("kernel", kernel_image.as_slice()),
            ("initrd.img", initrd.as_slice()),
            ("cmdline", format!("{cmdline}\n").as_bytes()),
        ] {
            let p = out(suffix);
            std::fs::write(&p, bytes).map_err(|e| HostImageError::io(p.clone(), e))?;
        }
        let files = [out("kernel"), out("initrd.img"), out("cmdline")];
        written.push(format::written(Format::KernelInitrd, &files)?);
    }
    let parts = format::Parts {
        slug: &slug,
        kernel: &kernel_image,
        initrd: &initrd,
        cmdline: &cmdline,
        disk_initrd: &disk_initrd,
        disk_cmdline: &disk_cmdline,
        system: &system,
        epoch: u64::from(mtime),
    };
    written.extend(format::write(&formats, &parts, app_dir, &work.0)?);

    let mut warnings = Vec::new();
    let volumes = linuxkit::tailor::volumes(app);
    let data_disk = if volumes.iter().any(|v| !v.tmpfs) && !opts.no_data_disk {
        let image = out("data.img");
        match qemu::data_disk(&app_dir.join("volumes"), &image) {
            Ok(_) => Some(image),
            Err(e) => {
                warnings.push(format!(
                    "no data disk ({e}); the volumes will be tmpfs, holding only what the image has at their paths, and lost at power-off"
                ));
                None
            }
        }
    } else {
        if volumes.iter().any(|v| !v.tmpfs) {
            warnings.push("no data disk (--no-data-disk): the volumes will be tmpfs, holding only what the image has at their paths, and lost at power-off".to_string());
        }
        None
    };
    let ports = assemble::guest_ports(app);
    let script = app_dir.join("run-qemu.sh");
    let text = qemu::run_script(&qemu::Script {
        name: &slug,
        ports: ports.iter().map(|p| (*p, *p)).collect(),
        data_disk: data_disk.clone(),
        formats: written.iter().map(|w| (w.format, w.path.clone())).collect(),
    });
    std::fs::write(&script, text).map_err(|e| HostImageError::io(script.clone(), e))?;
    set_mode(&script, 0o755).map_err(|e| HostImageError::io(script.clone(), e))?;
    let loopback_only =
        !app.image.listen.is_empty() && app.image.listen.iter().all(|l| assemble::is_loopback(l));
    if loopback_only && !opts.expose_loopback {
        warnings.push(format!(
            "{} listens on loopback only ({}): inside the VM nothing outside reaches it; --expose-loopback makes it reachable on the guest address",
            app.name,
            app.image.listen.join(", ")
        ));
    }
    Ok(HostImage {
        app: app.name.clone(),
        written,
        run_script: script,
        data_disk,
        kernel_release: kernel.release.clone(),
        kernel_bytes: kernel_image.len() as u64,
        initrd_bytes: initrd.len() as u64,
        system_bytes,
        modules: kernel::names(&modules),
        runtime: trees.runtime,
        exposed: trees.exposed,
        ports,
        warnings,
    })
}

/// The initramfs as the kernel reads it: newc cpio, gzip without a timestamp.
fn gzip(archive: &Archive, mtime: u32) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    archive.write(&mut gz, mtime)?;
    let mut out = gz.finish()?;
    out.flush()?;
    Ok(out)
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

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
