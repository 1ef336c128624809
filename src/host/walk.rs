//! Walking a tree of a host, built on its primitives so every kind of host walks alike.

use super::Host;
use std::fs::FileType;
use std::io;
use std::path::{Path, PathBuf};

/// One entry of a walk: its in-host path, its depth below the top (the top is 0) and its type,
/// not following symlinks.
#[derive(Debug)]
pub struct Walked {
    pub path: PathBuf,
    pub depth: usize,
    pub file_type: FileType,
}

/// Depth-first, entries of each directory in name order. `visit` sees every entry (the top
/// included) and returns whether to go on; errors (an unreadable directory, an entry that
/// vanished) are passed to `failed` and the walk continues.
pub fn walk<H: Host + ?Sized>(
    host: &H,
    top: &Path,
    max_depth: usize,
    visit: &mut dyn FnMut(Walked) -> bool,
    failed: &mut dyn FnMut(&Path, io::Error),
) {
    let meta = match host.lstat(top) {
        Ok(m) => m,
        Err(e) => return failed(top, e),
    };
    let is_dir = meta.is_dir();
    let go_on = visit(Walked {
        path: top.to_path_buf(),
        depth: 0,
        file_type: meta.file_type(),
    });
    if go_on && is_dir {
        walk_below(host, top, 1, max_depth, visit, failed);
    }
}

/// Returns false once `visit` asked to stop.
fn walk_below<H: Host + ?Sized>(
    host: &H,
    dir: &Path,
    depth: usize,
    max_depth: usize,
    visit: &mut dyn FnMut(Walked) -> bool,
    failed: &mut dyn FnMut(&Path, io::Error),
) -> bool {
    if depth > max_depth {
        return true;
    }
    let listing = match host.list(dir) {
        Ok(n) => n,
        Err(e) => {
            failed(dir, e);
            return true;
        }
    };
    for name in listing {
        let path = dir.join(&name);
        let file_type = match host.lstat(&path) {
            Ok(m) => m.file_type(),
            Err(e) => {
                failed(&path, e);
                continue;
            }
        };
        let is_dir = file_type.is_dir();
        let walked = Walked {
            path: path.clone(),
            depth,
            file_type,
        };
        if !visit(walked) {
            return false;
        }
        if is_dir && !walk_below(host, &path, depth + 1, max_depth, visit, failed) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_in_order_listing_symlinks_without_following_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/f"), "").unwrap();
        std::fs::write(root.join("a"), "").unwrap();
        std::os::unix::fs::symlink("/", root.join("b/up")).unwrap();
        let host = crate::host::at(root);
        let mut seen = Vec::new();
        host.walk(
            Path::new("/"),
            8,
            &mut |w| {
                seen.push((w.path, w.depth));
                true
            },
            &mut |p, e| panic!("{}: {e}", p.display()),
        );
        let want: Vec<(PathBuf, usize)> = [
            ("/", 0),
            ("/a", 1),
            ("/b", 1),
            ("/b/c", 2),
            ("/b/c/f", 3),
            ("/b/up", 2),
        ]
        .into_iter()
        .map(|(p, d)| (PathBuf::from(p), d))
        .collect();
        assert_eq!(seen, want);
    }
}
