//! `liftkit host-kernel`: liftkit's own kernel for host images, built from Debian's Linux source
//! (`linux-source-6.1`) with `make tinyconfig` plus `own_kernel.config`, everything built in.
//! A distribution kernel carries every driver and decompresses into 64 MiB before any init runs
//! (Debian's 6.1: `init_size` 63.6 MiB at 16 MiB), so no host built on it fits in 64 MiB;
//! LinuxKit ships kernels of its own for the same reason. The build is make's (the kernel's own
//! build system, run as it documents), with the build stamps fixed so the same source gives the
//! same image.

use super::{kernel, tool, HostImageError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The configuration fragment merged over tinyconfig.
pub const FRAGMENT: &str = include_str!("own_kernel.config");

/// Where Debian's `linux-source-*` packages put their tarball.
const DEBIAN_SOURCES: &str = "/usr/src";

/// The programs the kernel build runs, with the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("make", "make"),
    ("gcc", "gcc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("tar", "tar"),
];

#[derive(Debug, Clone)]
pub struct Request {
    /// A kernel tree, or a tarball of one; default: the newest /usr/src/linux-source-*.tar.*.
    pub source: Option<PathBuf>,
    pub out: PathBuf,
    pub jobs: usize,
    /// The build's date (KBUILD_BUILD_TIMESTAMP), seconds since the epoch.
    pub epoch: u64,
}

#[derive(Debug, Clone)]
pub struct Built {
    pub image: PathBuf,
    pub modules_dir: PathBuf,
    pub release: String,
    /// What the kernel needs before init runs (see `kernel::load_floor`), in bytes.
    pub floor: Option<u64>,
}

/// The options of `fragment` that `config` (a `.config`) does not hold as asked: what make's
/// dependency resolution dropped (an option whose dependency is off is silently unset).
pub fn unmet(fragment: &str, config: &str) -> Vec<String> {
    let set: std::collections::BTreeMap<&str, &str> =
        config.lines().filter_map(|l| l.split_once('=')).collect();
    fragment
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| {
            let (key, want) = l.split_once('=')?;
            let have = set.get(key).copied();
            let ok = match want {
                "n" => have.is_none() || have == Some("n"),
                _ => have == Some(want),
            };
            (!ok).then(|| l.to_string())
        })
        .collect()
}

/// The source to build: the one given, or the newest Linux source tarball Debian installed.
fn source(given: Option<&Path>) -> Result<PathBuf, HostImageError> {
    if let Some(s) = given {
        if s.join("Makefile").is_file() || s.is_file() {
            return Ok(s.to_path_buf());
        }
        return Err(HostImageError::Tool(format!(
            "{}: neither a Linux source tree (no Makefile) nor a tarball",
            s.display()
        )));
    }
    let mut found = kernel::named_like(Path::new(DEBIAN_SOURCES), "linux-source-");
    found.retain(|p| p.to_string_lossy().contains(".tar"));
    found.pop().ok_or_else(|| {
        HostImageError::Tool(format!(
            "no Linux source in {DEBIAN_SOURCES}: install the Debian package linux-source-6.1 \
             (it puts linux-source-6.1.tar.xz there), or give a tree or tarball with --source PATH"
        ))
    })
}

fn check_tools() -> Result<(), HostImageError> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(p, _)| {
            tool::find(
                tool::Tool {
                    program: p,
                    package: "",
                    purpose: "",
                },
                "",
            )
            .is_err()
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    // objtool, which x86-64 builds always run, is compiled against libelf.
    let libelf = Path::new("/usr/include/gelf.h").is_file();
    let mut packages = missing;
    if !libelf {
        packages.push("libelf-dev");
    }
    if packages.is_empty() {
        return Ok(());
    }
    Err(HostImageError::Tool(format!(
        "building a kernel needs tools that are not installed: install the Debian packages {}",
        packages.join(" ")
    )))
}

/// The kernel tree: the source itself, or the tarball unpacked under `out/src` (once).
fn tree(source: &Path, out: &Path) -> Result<PathBuf, HostImageError> {
    if source.is_dir() {
        return Ok(source.to_path_buf());
    }
    let into = out.join("src");
    let unpacked = |into: &Path| -> Option<PathBuf> {
        std::fs::read_dir(into)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("Makefile").is_file())
    };
    if let Some(t) = unpacked(&into) {
        return Ok(t);
    }
    std::fs::create_dir_all(&into).map_err(|e| HostImageError::io(into.clone(), e))?;
    eprintln!("host-kernel: unpacking {}", source.display());
    tool::run(
        Command::new("tar")
            .arg("-xf")
            .arg(source)
            .arg("-C")
            .arg(&into),
    )?;
    unpacked(&into).ok_or_else(|| {
        HostImageError::Tool(format!(
            "{}: the tarball holds no Linux source tree (no Makefile one level down)",
            source.display()
        ))
    })
}

/// make in the tree, with the stamps fixed; its output goes to `log`.
fn make(tree: &Path, req: &Request, log: &Path, args: &[&str]) -> Result<(), HostImageError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| HostImageError::io(log.to_path_buf(), e))?;
    let err = file
        .try_clone()
        .map_err(|e| HostImageError::io(log.to_path_buf(), e))?;
    let status = Command::new("make")
        .arg("-C")
        .arg(tree)
        .arg(format!("-j{}", req.jobs.max(1)))
        .args(args)
        .env("KBUILD_BUILD_TIMESTAMP", build_date(req.epoch))
        .env("KBUILD_BUILD_USER", "liftkit")
        .env("KBUILD_BUILD_HOST", "liftkit")
        .env("KBUILD_BUILD_VERSION", "1")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| HostImageError::Tool(format!("make: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let last = text
        .lines()
        .rfind(|l| l.contains("error") || l.contains("Error"))
        .or_else(|| text.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or("");
    Err(HostImageError::Tool(format!(
        "make {} failed ({status}): {last} (whole log: {})",
        args.join(" "),
        log.display()
    )))
}

/// The build date as `uname -v` shows it (the kernel takes the string as it is): coreutils'
/// `date -u -d @EPOCH`, the form the kernel's own build would write.
fn build_date(epoch: u64) -> String {
    Command::new("date")
        .args(["-u", "-d", &format!("@{epoch}")])
        .env("LC_ALL", "C")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| format!("@{epoch}"))
}

/// Configures and builds the kernel; writes `out/vmlinuz-<release>`, `out/config-<release>`
/// and `out/lib/modules/<release>/`.
pub fn build(req: &Request) -> Result<Built, HostImageError> {
    let source = source(req.source.as_deref())?;
    check_tools()?;
    std::fs::create_dir_all(&req.out).map_err(|e| HostImageError::io(req.out.clone(), e))?;
    let out = req
        .out
        .canonicalize()
        .map_err(|e| HostImageError::io(req.out.clone(), e))?;
    let tree = tree(&source, &out)?;
    let log = out.join("build.log");
    let _ = std::fs::remove_file(&log);
    eprintln!(
        "host-kernel: configuring {} (tinyconfig + liftkit's fragment)",
        tree.display()
    );
    make(&tree, req, &log, &["tinyconfig"])?;
    let config_path = tree.join(".config");
    let fragment_path = out.join("own_kernel.config");
    std::fs::write(&fragment_path, FRAGMENT)
        .map_err(|e| HostImageError::io(fragment_path.clone(), e))?;
    // merge_config.sh is the kernel's own tool for fragments; -m merges without running make.
    let merged = Command::new("sh")
        .arg(tree.join("scripts/kconfig/merge_config.sh"))
        .arg("-m")
        .arg("-O")
        .arg(&tree)
        .arg(&config_path)
        .arg(&fragment_path)
        .current_dir(&tree)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostImageError::Tool(format!("merge_config.sh: {e}")))?;
    if !merged.status.success() {
        return Err(tool::failed("merge_config.sh", &merged));
    }
    make(&tree, req, &log, &["olddefconfig"])?;
    let config = std::fs::read_to_string(&config_path)
        .map_err(|e| HostImageError::io(config_path.clone(), e))?;
    let dropped = unmet(FRAGMENT, &config);
    if !dropped.is_empty() {
        return Err(HostImageError::Tool(format!(
            "this source cannot be configured as a liftkit host needs: {} did not take (a \
             dependency is missing in this kernel version)",
            dropped.join(", ")
        )));
    }
    eprintln!(
        "host-kernel: compiling with {} jobs (about 15 minutes on 2 cores; log: {})",
        req.jobs,
        log.display()
    );
    make(&tree, req, &log, &["bzImage", "modules"])?;
    make(
        &tree,
        req,
        &log,
        &[
            "modules_install",
            &format!("INSTALL_MOD_PATH={}", out.display()),
            "INSTALL_MOD_STRIP=1",
            "DEPMOD=true",
        ],
    )?;
    let release = std::fs::read_to_string(tree.join("include/config/kernel.release"))
        .map(|s| s.trim().to_string())
        .map_err(|e| HostImageError::io(tree.join("include/config/kernel.release"), e))?;
    let image = out.join(format!("vmlinuz-{release}"));
    let bz = tree.join("arch/x86/boot/bzImage");
    std::fs::copy(&bz, &image).map_err(|e| HostImageError::io(bz.clone(), e))?;
    let cfg = out.join(format!("config-{release}"));
    std::fs::write(&cfg, &config).map_err(|e| HostImageError::io(cfg.clone(), e))?;
    let modules_dir = out.join("lib/modules").join(&release);
    // Nothing is a module: the links back into the source tree would only dangle elsewhere.
    for link in ["build", "source"] {
        let _ = std::fs::remove_file(modules_dir.join(link));
    }
    Ok(Built {
        floor: kernel::load_floor(&image),
        image,
        modules_dir,
        release,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_make_dropped_is_named() {
        let config = "CONFIG_64BIT=y\n# CONFIG_RANDOMIZE_BASE is not set\nCONFIG_LOCALVERSION=\"-liftkit\"\n";
        let fragment = "# why\nCONFIG_64BIT=y\nCONFIG_RANDOMIZE_BASE=n\nCONFIG_LOCALVERSION=\"-liftkit\"\nCONFIG_SQUASHFS_XZ=y\n";
        assert_eq!(unmet(fragment, config), vec!["CONFIG_SQUASHFS_XZ=y"]);
    }

    #[test]
    fn the_fragment_asks_for_what_host_image_needs_built_in() {
        // Every module host-image loads from a distribution kernel is built in here.
        for opt in [
            "CONFIG_BLK_DEV_LOOP=y",
            "CONFIG_SQUASHFS=y",
            "CONFIG_VIRTIO_PCI=y",
            "CONFIG_VIRTIO_NET=y",
            "CONFIG_OVERLAY_FS=y",
            "CONFIG_ACPI_BUTTON=y",
            "CONFIG_INPUT_EVDEV=y",
            "CONFIG_VIRTIO_BLK=y",
            "CONFIG_CRYPTO_CRC32C=y",
            "CONFIG_EXT4_FS=y",
        ] {
            assert!(FRAGMENT.lines().any(|l| l == opt), "{opt}");
        }
        assert_eq!(
            kernel::NEEDED.len(),
            10,
            "a new needed module: add it above and to the fragment"
        );
    }
}
