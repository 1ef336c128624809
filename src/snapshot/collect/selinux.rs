//! SELinux on the source host: its mode and policy (`/etc/selinux/config`), and whether files
//! carry labels (`security.selinux` extended attributes). Labels are the source host's policy,
//! meaningless to a container engine, which labels a container itself: liftkit never copies them
//! into image layers (the layer writer writes no extended attributes), and says so in the plan.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `enforcing (targeted); files labelled (/etc: system_u:object_r:etc_t:s0)`, or empty when
/// the host has no SELinux configured and no labels.
pub fn describe(local_root: &Path) -> String {
    // Opened as every host file is: without touching its access time.
    let config = crate::host::open_noatime(&local_root.join("etc/selinux/config"))
        .and_then(|f| std::io::read_to_string(std::io::Read::take(f, 1 << 16)))
        .unwrap_or_default();
    let get = |key: &str| {
        config
            .lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let mode = get("SELINUX");
    let label = ["etc", "usr", ""]
        .iter()
        .find_map(|p| label_of(&local_root.join(p)));
    let mut out = Vec::new();
    if let Some(m) = mode.filter(|m| m != "disabled") {
        out.push(match get("SELINUXTYPE") {
            Some(t) => format!("{m} ({t})"),
            None => m,
        });
    }
    if let Some(l) = label {
        out.push(format!("files labelled ({l})"));
    }
    out.join("; ")
}

/// The `security.selinux` attribute of a path, not following a final symlink.
pub fn label_of(path: &Path) -> Option<String> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = CString::new("security.selinux").ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of the length given.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    let v = &buf[..n as usize];
    Some(String::from_utf8_lossy(v.strip_suffix(&[0]).unwrap_or(v)).into_owned())
}
