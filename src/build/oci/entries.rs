//! Turns the caller's entry list into the exact sequence the layer holds: validated, deduplicated,
//! sorted parents-first, with missing parent directories added and each hard-link group led by
//! its first member in archive order (extractors can only link to a file they have already made).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::{Entry, EntryKind, OciError};

/// Mode and owner of parent directories nobody listed.
const IMPLIED_DIR_MODE: u32 = 0o755;

/// Hard links followed to find a group's file before assuming a cycle.
const MAX_LINK_CHAIN: usize = 64;

/// The entries in archive order. `Path`'s ordering compares component by component, so `/a`
/// sorts before `/a/b` and both before `/a-b`: parents always precede their children.
pub(crate) fn prepare(entries: Vec<Entry>) -> Result<Vec<Entry>, OciError> {
    let mut by_path = BTreeMap::new();
    for mut entry in entries {
        entry.path = checked(&entry.path)?;
        if entry.path == Path::new("/") {
            continue;
        }
        match &mut entry.kind {
            EntryKind::Symlink(target) => check_link_target(&entry.path, target)?,
            EntryKind::Hardlink(target) => *target = checked(target)?,
            EntryKind::Dir | EntryKind::File(_) => {}
        }
        // Later wins: a plan may name a directory twice, or override a host file with bytes.
        by_path.insert(entry.path.clone(), entry);
    }
    add_parents(&mut by_path)?;
    lead_hardlink_groups(&mut by_path)?;
    Ok(by_path.into_values().collect())
}

/// The path as it will be archived: absolute, without `..`, `.` or NUL bytes.
fn checked(path: &Path) -> Result<PathBuf, OciError> {
    let bad = |why| OciError::InvalidPath {
        path: path.to_path_buf(),
        why,
    };
    let mut parts = path.components();
    if parts.next() != Some(Component::RootDir) {
        return Err(bad("must be absolute"));
    }
    let mut out = PathBuf::from("/");
    for part in parts {
        match part {
            Component::Normal(name) if name.as_bytes().contains(&0) => {
                return Err(bad("contains a NUL byte"))
            }
            Component::Normal(name) => out.push(name),
            Component::ParentDir => return Err(bad("contains `..`")),
            _ => return Err(bad("contains `.` or a prefix")),
        }
    }
    Ok(out)
}

/// Symlink targets are stored verbatim (`../lib/x` is legitimate), but the kernel refuses an
/// empty one and tar cannot hold a NUL.
fn check_link_target(path: &Path, target: &Path) -> Result<(), OciError> {
    let bytes = target.as_os_str().as_bytes();
    if bytes.is_empty() || bytes.contains(&0) {
        return Err(OciError::InvalidPath {
            path: path.to_path_buf(),
            why: "symlink target is empty or contains a NUL byte",
        });
    }
    Ok(())
}

fn add_parents(by_path: &mut BTreeMap<PathBuf, Entry>) -> Result<(), OciError> {
    let mut implied = BTreeSet::new();
    for path in by_path.keys() {
        for parent in path.ancestors().skip(1) {
            if parent == Path::new("/") {
                break;
            }
            match by_path.get(parent) {
                Some(e) if e.kind == EntryKind::Dir => {}
                Some(_) => {
                    return Err(OciError::ParentNotDir {
                        path: path.clone(),
                        parent: parent.to_path_buf(),
                    })
                }
                None => {
                    implied.insert(parent.to_path_buf());
                }
            }
        }
    }
    for path in implied {
        let dir = Entry {
            path: path.clone(),
            kind: EntryKind::Dir,
            mode: IMPLIED_DIR_MODE,
            uid: 0,
            gid: 0,
        };
        by_path.insert(path, dir);
    }
    Ok(())
}

/// Rewrites every hard-link group so that its first path in archive order holds the file and
/// the others link to it, whichever path the caller called the original.
fn lead_hardlink_groups(by_path: &mut BTreeMap<PathBuf, Entry>) -> Result<(), OciError> {
    let mut groups: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for (path, entry) in by_path.iter() {
        if let EntryKind::Hardlink(target) = &entry.kind {
            let file = group_file(by_path, path, target)?;
            groups.entry(file).or_default().push(path.clone());
        }
    }
    for (file, links) in groups {
        let leader = links.iter().min().filter(|l| **l < file).cloned();
        let Some(leader) = leader else {
            for link in links {
                set_link(by_path, &link, &file);
            }
            continue;
        };
        // One inode, one set of metadata: the file's, whatever the link entries said.
        let content = by_path[&file].clone();
        if let Some(e) = by_path.get_mut(&leader) {
            e.kind = content.kind;
            (e.mode, e.uid, e.gid) = (content.mode, content.uid, content.gid);
        }
        for member in links.into_iter().chain([file]) {
            if member != leader {
                set_link(by_path, &member, &leader);
            }
        }
    }
    Ok(())
}

fn set_link(by_path: &mut BTreeMap<PathBuf, Entry>, path: &Path, to: &Path) {
    if let Some(e) = by_path.get_mut(path) {
        e.kind = EntryKind::Hardlink(to.to_path_buf());
    }
}

/// Follows a chain of hard links to the regular file they all share.
fn group_file(
    by_path: &BTreeMap<PathBuf, Entry>,
    path: &Path,
    target: &Path,
) -> Result<PathBuf, OciError> {
    let bad = |why| OciError::InvalidHardlink {
        path: path.to_path_buf(),
        target: target.to_path_buf(),
        why,
    };
    let mut current = target.to_path_buf();
    for _ in 0..MAX_LINK_CHAIN {
        match by_path.get(&current).map(|e| &e.kind) {
            None => return Err(bad("target is not in the image")),
            Some(EntryKind::File(_)) => return Ok(current),
            Some(EntryKind::Hardlink(next)) => current = next.clone(),
            Some(_) => return Err(bad("target is not a regular file")),
        }
    }
    Err(bad("links form a cycle"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::oci::Source;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }

    fn file(path: &str) -> Entry {
        entry(path, EntryKind::File(Source::Bytes(b"x".to_vec())))
    }

    fn link(path: &str, to: &str) -> Entry {
        entry(path, EntryKind::Hardlink(to.into()))
    }

    #[test]
    fn sorts_parents_first_and_adds_missing_ones() {
        let out = prepare(vec![file("/a-b"), file("/a/b/c"), file("/a/b.txt")]).unwrap();
        let paths: Vec<_> = out.iter().map(|e| e.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["/a", "/a/b", "/a/b/c", "/a/b.txt", "/a-b"]);
        assert_eq!(out[0].kind, EntryKind::Dir);
        assert_eq!(out[0].mode, IMPLIED_DIR_MODE);
    }

    #[test]
    fn refuses_relative_and_dotdot_paths() {
        for bad in ["etc/passwd", "/etc/../../x", "../x", ""] {
            assert!(prepare(vec![file(bad)]).is_err(), "{bad} accepted");
        }
        assert!(prepare(vec![link("/x", "/../y"), file("/y")]).is_err());
    }

    #[test]
    fn file_under_a_symlink_is_refused() {
        let lib = entry("/lib", EntryKind::Symlink("usr/lib".into()));
        let err = prepare(vec![lib, file("/lib/libc.so.6")]).unwrap_err();
        assert!(matches!(err, OciError::ParentNotDir { .. }));
    }

    #[test]
    fn first_path_of_a_hardlink_group_carries_the_content() {
        let out = prepare(vec![file("/z"), link("/a", "/z"), link("/m", "/a")]).unwrap();
        assert!(matches!(out[0].kind, EntryKind::File(_)));
        assert_eq!(out[1].kind, EntryKind::Hardlink("/a".into()));
        assert_eq!(out[2].kind, EntryKind::Hardlink("/a".into()));
    }

    #[test]
    fn dangling_or_cyclic_hardlinks_are_refused() {
        assert!(prepare(vec![link("/a", "/missing")]).is_err());
        assert!(prepare(vec![link("/a", "/b"), link("/b", "/a")]).is_err());
        assert!(prepare(vec![entry("/d", EntryKind::Dir), link("/a", "/d")]).is_err());
    }

    #[test]
    fn later_duplicate_wins() {
        let mut second = file("/etc");
        second.kind = EntryKind::Dir;
        second.mode = 0o700;
        let out = prepare(vec![file("/etc"), second]).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].mode, 0o700);
    }
}
