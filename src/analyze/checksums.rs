//! dpkg's checksums of the files packages installed (`<package>.md5sums`, and the status file's
//! `Conffiles` for configuration): whether a file on the host is still the distribution's bytes,
//! the same on every host with that package version, or the operator's. The maintained
//! Dockerfile installs the former from the package; the secret scan leaves them alone (a
//! pristine `/etc/services` names `kpasswd`, it holds no password of this host).

use crate::host::Host;
use md5::{Digest as _, Md5};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const STATUS: &str = "/var/lib/dpkg/status";
const INFO_DIR: &str = "/var/lib/dpkg/info";

/// dpkg's checksums of packaged files: `<package>.md5sums` for ordinary files, the status
/// file's `Conffiles` for configuration.
pub struct Checksums {
    md5: BTreeMap<String, String>,
}

impl Checksums {
    pub fn load(host: &dyn Host, packages: &BTreeSet<&str>) -> Self {
        let mut md5 = BTreeMap::new();
        for p in packages {
            for name in [format!("{p}.md5sums"), format!("{p}:amd64.md5sums")] {
                if let Ok(text) = host.read_to_string(&Path::new(INFO_DIR).join(name)) {
                    for line in text.lines() {
                        if let Some((sum, path)) = line.split_once("  ") {
                            md5.insert(format!("/{path}"), sum.to_string());
                        }
                    }
                }
            }
        }
        if let Ok(status) = host.read_to_string(Path::new(STATUS)) {
            for line in status.lines().filter(|l| l.starts_with(' ')) {
                // Conffiles continuation lines: ` /etc/x 0123abcd…` (plus ` obsolete`).
                let mut parts = line.split_whitespace();
                if let (Some(path), Some(sum)) = (parts.next(), parts.next()) {
                    if path.starts_with('/') && sum.len() == 32 {
                        md5.insert(path.to_string(), sum.to_string());
                    }
                }
            }
        }
        Checksums { md5 }
    }

    /// Whether the host's file differs from what its package installed; `None`: no record.
    pub fn changed(&self, host: &dyn Host, path: &str) -> Option<bool> {
        let twin = match path.strip_prefix("/usr") {
            Some(rest) => rest.to_string(),
            None => format!("/usr{path}"),
        };
        let recorded = self.md5.get(path).or_else(|| self.md5.get(&twin))?;
        let mut f = host.open(Path::new(path)).ok()?;
        let mut hasher = Md5::new();
        std::io::copy(&mut f, &mut hasher).ok()?;
        Some(hex::encode(hasher.finalize()) != *recorded)
    }
}
