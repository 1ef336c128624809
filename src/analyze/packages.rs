//! Which Debian package owns a file, from dpkg's own lists.

use crate::host::Host;
use std::collections::HashMap;
use std::path::Path;

const INFO_DIR: &str = "/var/lib/dpkg/info";

#[derive(Debug, Default)]
pub struct PackageIndex {
    owner: HashMap<String, String>,
}

impl PackageIndex {
    /// Reads every `*.list` once; a host without dpkg gives an empty index, not an error.
    pub fn load(host: &dyn Host) -> Self {
        let mut owner = HashMap::new();
        let Ok(names) = host.read_dir(Path::new(INFO_DIR)) else {
            return PackageIndex { owner };
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
        PackageIndex { owner }
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
