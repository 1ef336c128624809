//! Which package owns a file: from dpkg's own lists, and from the rpm database on RHEL-family
//! hosts (which also says which files are `%config`, to tell the ones the operator changed).

use crate::host::Host;
use crate::snapshot::collect::rpm::{self, header::DigestAlgo, RpmFile};
use std::collections::HashMap;
use std::path::Path;

const INFO_DIR: &str = "/var/lib/dpkg/info";

#[derive(Debug, Default)]
pub struct PackageIndex {
    owner: HashMap<String, String>,
    /// rpm `%config` files: path → (package, digest algorithm, what rpm recorded).
    rpm_config: HashMap<String, (String, DigestAlgo, RpmFile)>,
}

impl PackageIndex {
    /// Reads every `*.list` once; a host without dpkg gives an empty index, not an error.
    pub fn load(host: &dyn Host) -> Self {
        let mut index = PackageIndex::default();
        index.load_rpm(host);
        let owner = &mut index.owner;
        let Ok(names) = host.read_dir(Path::new(INFO_DIR)) else {
            return index;
        };
        for name in names {
            let name = name.to_string_lossy();
            let Some(pkg) = name.strip_suffix(".list") else {
                continue;
            };
            let pkg = pkg.split(':').next().unwrap_or(pkg).to_string();
            let path = Path::new(INFO_DIR).join(name.as_ref());
            let Ok(text) = host.read_to_string(&path) else {
                continue;
            };
            for line in text.lines().filter(|l| l.starts_with('/')) {
                owner.entry(line.to_string()).or_insert_with(|| pkg.clone());
            }
        }
        index
    }

    /// An unreadable rpm database leaves files unowned; collect already reported why.
    fn load_rpm(&mut self, host: &dyn Host) {
        let Ok(Some(db)) = rpm::read(host) else {
            return;
        };
        for h in db.packages {
            for f in h.files {
                if f.config {
                    self.rpm_config
                        .insert(f.path.clone(), (h.name.clone(), h.digest_algo, f.clone()));
                }
                self.owner.entry(f.path).or_insert_with(|| h.name.clone());
            }
        }
    }

    /// What the package database says about a file beyond its owner: for an rpm `%config`
    /// file, whether the operator changed it since the package installed it.
    pub fn note(&self, host: &dyn Host, path: &str) -> Option<String> {
        let (pkg, algo, file) = self.rpm_config.get(path)?;
        Some(match rpm::config_changed(host, *algo, file) {
            Some(true) => format!("%config of rpm {pkg}, changed since installed (digest differs from the rpm database)"),
            Some(false) => format!("%config of rpm {pkg}, as installed"),
            None => format!("%config of rpm {pkg}"),
        })
    }

    /// Looks the path up as given, then as the merged-/usr twin dpkg may list it under.
    pub fn owner(&self, path: &str) -> Option<String> {
        if let Some(p) = self.owner.get(path) {
            return Some(p.clone());
        }
        let twin = match path.strip_prefix("/usr") {
            Some(rest)
                if rest.starts_with("/lib")
                    || rest.starts_with("/bin")
                    || rest.starts_with("/sbin") =>
            {
                rest.to_string()
            }
            _ => format!("/usr{path}"),
        };
        self.owner.get(&twin).cloned()
    }
}
