//! Path globs (`/etc/nginx/**`, `/usr/lib/*/libnss_*.so.2`) expanded inside a host root.

use crate::host::Host;
use std::path::{Path, PathBuf};

/// A glob should name an application's files, not a filesystem: stop well before that.
const MAX_MATCHES: usize = 50_000;
const MAX_DEPTH: usize = 32;

/// Existing non-directory paths matching `pattern`, sorted. A pattern without glob characters
/// names itself (a directory included, expanded to everything below it).
pub fn expand(host: &dyn Host, pattern: &str) -> Vec<PathBuf> {
    let pattern = crate::host::normalize(Path::new(pattern));
    let text = pattern.to_string_lossy().into_owned();
    let literal: PathBuf = pattern
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{'])
        })
        .collect();
    let is_glob = literal != pattern;
    let Ok(meta) = host.stat(&literal) else {
        return Vec::new();
    };
    if !meta.is_dir() {
        return if is_glob { Vec::new() } else { vec![literal] };
    }
    let matcher = if is_glob {
        match globset::GlobBuilder::new(&text)
            .literal_separator(true)
            .build()
        {
            Ok(g) => Some(g.compile_matcher()),
            Err(_) => return Vec::new(),
        }
    } else {
        None
    };
    let Ok(real) = host.real_path(&literal) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut visit = |entry: crate::host::Walked| {
        if entry.file_type.is_dir() {
            return true;
        }
        let Ok(rel) = entry.path.strip_prefix(&real) else {
            return true;
        };
        let path = literal.join(rel);
        if matcher.as_ref().is_none_or(|m| m.is_match(&path)) {
            found.push(path);
        }
        found.len() < MAX_MATCHES
    };
    host.walk(&real, MAX_DEPTH, &mut visit, &mut |_, _| {});
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_in_one_directory_and_double_stars_descend() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/app/sub")).unwrap();
        std::fs::write(root.join("etc/app/a.conf"), "").unwrap();
        std::fs::write(root.join("etc/app/sub/b.conf"), "").unwrap();
        let host = crate::host::at(root);
        assert_eq!(
            expand(&host, "/etc/app/*.conf"),
            vec![PathBuf::from("/etc/app/a.conf")]
        );
        assert_eq!(expand(&host, "/etc/app/**").len(), 2);
        assert_eq!(expand(&host, "/etc/app").len(), 2);
        assert!(expand(&host, "/nope/**").is_empty());
    }
}
