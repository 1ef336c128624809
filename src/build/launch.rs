//! The image must hold what its entrypoint runs: the program the entrypoint names (through the
//! image's own links, or on its `PATH`) and every interpreter a `#!` line on the way names. An
//! image without it loads and then fails with "executable file not found": such a build does
//! not happen.

use super::oci::{Entry, EntryKind, Source};
use crate::host::Host;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

const MAX_LINKS: usize = 40;
const MAX_CHAIN: usize = 4;

/// Why the entrypoint cannot run in the image: one line, naming the path.
pub fn check(
    entrypoint: &[String],
    env: &[String],
    workdir: &str,
    entries: &[Entry],
    host: &dyn Host,
) -> Result<(), String> {
    let Some(first) = entrypoint.first() else {
        return Err("the image has no entrypoint".to_string());
    };
    let tree: BTreeMap<&Path, &EntryKind> = entries
        .iter()
        .map(|e| (e.path.as_path(), &e.kind))
        .collect();
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut program = find(&tree, first, path, workdir).ok_or_else(|| {
        format!("the entrypoint {first} is not in the image (add it to the plan's files, or point the entrypoint at a program the image holds)")
    })?;
    for _ in 0..MAX_CHAIN {
        let Some((interp, arg)) = shebang(&tree, &program, host) else {
            return Ok(());
        };
        let shown = program.display().to_string();
        let found = find(&tree, &interp, path, workdir).ok_or_else(|| {
            format!("{shown} starts with #!{interp}, which is not in the image (add {interp} to the plan's files)")
        })?;
        program = match (interp.rsplit('/').next(), arg) {
            (Some("env"), Some(prog)) => find(&tree, &prog, path, workdir).ok_or_else(|| {
                format!("{shown} runs {prog} through #!{interp}, and no {prog} is on the image's PATH ({path})")
            })?,
            _ => found,
        };
    }
    Ok(())
}

/// A program as the runtime's `execvp` finds it: a path as written (relative to the working
/// directory), a bare name on `PATH`; the regular file it resolves to.
fn find(
    tree: &BTreeMap<&Path, &EntryKind>,
    program: &str,
    path: &str,
    workdir: &str,
) -> Option<PathBuf> {
    if program.contains('/') {
        let abs = Path::new(workdir).join(program);
        return resolve(tree, &abs).filter(|p| is_file(tree, p));
    }
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .filter_map(|d| resolve(tree, &Path::new(d).join(program)))
        .find(|p| is_file(tree, p))
}

fn is_file(tree: &BTreeMap<&Path, &EntryKind>, p: &Path) -> bool {
    matches!(
        tree.get(p),
        Some(EntryKind::File(_) | EntryKind::Hardlink(_))
    )
}

/// Follows the image's symlinks, component by component, as the kernel would inside it.
fn resolve(tree: &BTreeMap<&Path, &EntryKind>, abs: &Path) -> Option<PathBuf> {
    let mut pending: Vec<PathBuf> = abs.components().rev().filter_map(part).collect();
    let mut current = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == Path::new("..") {
            current.pop();
            continue;
        }
        let candidate = current.join(&name);
        match tree.get(candidate.as_path()) {
            Some(EntryKind::Symlink(target)) => {
                hops += 1;
                if hops > MAX_LINKS {
                    return None;
                }
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                pending.extend(target.components().rev().filter_map(part));
            }
            Some(_) => current = candidate,
            None => return None,
        }
    }
    Some(current)
}

fn part(c: Component) -> Option<PathBuf> {
    match c {
        Component::Normal(n) => Some(PathBuf::from(n)),
        Component::ParentDir => Some(PathBuf::from("..")),
        _ => None,
    }
}

/// The `#!` line of an image file, from the bytes it will hold.
fn shebang(
    tree: &BTreeMap<&Path, &EntryKind>,
    file: &Path,
    host: &dyn Host,
) -> Option<(String, Option<String>)> {
    let kind = match tree.get(file)? {
        EntryKind::Hardlink(target) => tree.get(target.as_path())?,
        k => k,
    };
    let head = match kind {
        EntryKind::File(Source::Host(p)) => host.read_limited(p, 256).ok()?,
        EntryKind::File(Source::Bytes(b)) => b.iter().take(256).copied().collect(),
        _ => return None,
    };
    crate::analyze::parse_shebang(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: PathBuf::from(path),
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
        }
    }

    fn bytes(b: &str) -> EntryKind {
        EntryKind::File(Source::Bytes(b.as_bytes().to_vec()))
    }

    #[test]
    fn the_entrypoint_and_its_interpreters_must_be_in_the_image() {
        let host = crate::host::NoFiles;
        let env = vec!["PATH=/usr/bin".to_string()];
        let mut entries = vec![
            entry("/usr", EntryKind::Dir),
            entry("/usr/bin", EntryKind::Dir),
            entry("/bin", EntryKind::Symlink("usr/bin".into())),
            entry("/usr/bin/python3.11", bytes("\x7fELF")),
            entry("/usr/bin/python3", EntryKind::Symlink("python3.11".into())),
            entry("/srv", EntryKind::Dir),
            entry("/srv/run.py", bytes("#!/usr/bin/env python3\n")),
            entry("/srv/start.sh", bytes("#!/bin/sh\nexec x\n")),
        ];
        let ep = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check(&ep(&["/bin/python3", "x.py"]), &env, "/", &entries, &host).is_ok());
        assert!(check(&ep(&["python3"]), &env, "/", &entries, &host).is_ok());
        let e = check(&ep(&["/srv/run.py"]), &env, "/", &entries, &host).unwrap_err();
        assert!(e.contains("#!/usr/bin/env"), "{e}");
        let e = check(&ep(&["/srv/start.sh"]), &env, "/", &entries, &host).unwrap_err();
        assert!(e.contains("/srv/start.sh starts with #!/bin/sh"), "{e}");
        let e = check(&ep(&["/usr/local/bin/gone"]), &env, "/", &entries, &host).unwrap_err();
        assert!(e.contains("/usr/local/bin/gone is not in the image"), "{e}");
        entries.push(entry("/usr/bin/env", bytes("\x7fELF")));
        entries.push(entry("/usr/bin/sh", bytes("\x7fELF")));
        assert!(check(&ep(&["/srv/run.py"]), &env, "/", &entries, &host).is_ok());
        assert!(check(&ep(&["./start.sh"]), &env, "/srv", &entries, &host).is_ok());
    }
}
