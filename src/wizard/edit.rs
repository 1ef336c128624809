//! Turning typed answers into plan changes: each setting has a parser that says why a text is
//! not acceptable (shown to the person, who is asked again) and an apply step.

use super::Validator;
use crate::plan::{AppPlan, Generated};
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// `80, 443/tcp 53/udp` → `["80/tcp", "443/tcp", "53/udp"]`; `none` (or nothing) means no ports.
pub fn parse_ports(text: &str) -> Result<Vec<String>, String> {
    let mut ports = Vec::new();
    if text.trim() == "none" {
        return Ok(ports);
    }
    for word in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (num, proto) = word.split_once('/').unwrap_or((word, "tcp"));
        let ok_num = num.parse::<u16>().ok().filter(|n| *n > 0);
        match (ok_num, proto) {
            (Some(n), "tcp" | "udp") => ports.push(format!("{n}/{proto}")),
            (None, _) => {
                return Err(format!(
                    "{word:?} is not a port: write numbers 1-65535, like 8080/tcp or 53/udp"
                ))
            }
            (Some(_), _) => {
                return Err(format!("{word:?}: the protocol is tcp or udp"));
            }
        }
    }
    Ok(ports)
}

pub fn ports_validator() -> Validator {
    Arc::new(|t: &str| parse_ports(t).map(|_| ()))
}

/// A user of the source host: the image's passwd and group are made from the host's.
pub fn user_validator(snapshot: &Snapshot) -> Validator {
    let names: BTreeSet<String> = snapshot.users.iter().map(|u| u.name.clone()).collect();
    Arc::new(move |t: &str| {
        if names.contains(t.trim()) {
            Ok(())
        } else {
            Err(format!(
                "no user {:?} on the source host (its passwd line goes into the image)",
                t.trim()
            ))
        }
    })
}

/// Makes the app run as `name`: the image config's uid/gid, and the account in the image's
/// own passwd and group.
pub fn set_user(app: &mut AppPlan, snapshot: &Snapshot, name: &str) {
    let Some(user) = snapshot.user_by_name(name.trim()) else {
        return;
    };
    if app.image.user == user.name {
        return;
    }
    app.image.user = user.name.clone();
    app.image.uid = user.uid;
    app.image.gid = user.gid;
    let group_line = snapshot.group_by_gid(user.gid).map(|g| g.line.clone());
    add_line(&mut app.generated, "/etc/passwd", &user.line);
    if let Some(line) = group_line {
        add_line(&mut app.generated, "/etc/group", &line);
    }
}

fn add_line(generated: &mut [Generated], path: &str, line: &str) {
    if let Some(g) = generated.iter_mut().find(|g| g.path == path) {
        if !g.content.lines().any(|l| l == line) {
            if !g.content.is_empty() && !g.content.ends_with('\n') {
                g.content.push('\n');
            }
            g.content.push_str(line);
            g.content.push('\n');
        }
    }
}

pub fn parse_entrypoint(text: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(text)
        .ok_or_else(|| "unbalanced quotes: quote words as a shell would".to_string())?;
    if words.is_empty() {
        return Err("the entrypoint cannot be empty".to_string());
    }
    Ok(words)
}

/// The program must be an absolute path the image holds, or the image cannot start.
pub fn entrypoint_validator(app: &AppPlan) -> Validator {
    let in_image: BTreeSet<String> = app
        .files
        .iter()
        .map(|f| f.path.clone())
        .chain(app.generated.iter().map(|g| g.path.clone()))
        .chain(app.links.iter().map(|l| l.path.clone()))
        .collect();
    Arc::new(move |t: &str| {
        let words = parse_entrypoint(t)?;
        let program = &words[0];
        if !program.starts_with('/') {
            return Err(format!(
                "{program:?}: give the program's absolute path (the image has no shell to search PATH)"
            ));
        }
        if !in_image.contains(program) {
            return Err(format!(
                "{program} is not in the image (add it to the plan's files first)"
            ));
        }
        Ok(())
    })
}

/// An output directory that can be created, or an empty one (any, with `force`).
pub fn output_validator(force: bool) -> Validator {
    Arc::new(move |t: &str| check_output(Path::new(t.trim()), force))
}

/// `dir` when it can be written to, else the first of `dir-2`, `dir-3`, … that can (or `dir`
/// itself when none can, for the person to change).
pub fn free_output(dir: &Path, force: bool) -> std::path::PathBuf {
    if check_output(dir, force).is_ok() {
        return dir.to_path_buf();
    }
    (2..100)
        .map(|n| {
            let mut name = dir.as_os_str().to_owned();
            name.push(format!("-{n}"));
            std::path::PathBuf::from(name)
        })
        .find(|d| check_output(d, force).is_ok())
        .unwrap_or_else(|| dir.to_path_buf())
}

pub fn check_output(dir: &Path, force: bool) -> Result<(), String> {
    if dir.as_os_str().is_empty() {
        return Err("give a directory".to_string());
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(format!("{} exists and is not a directory", dir.display()));
        }
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: cannot list: {e}", dir.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(format!(
                "{} exists and is not empty (choose another, or run with --force to replace \
                 the applications it holds)",
                dir.display()
            ));
        }
        return Ok(());
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "the parent directory {} does not exist",
            parent.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_with_default_protocol_and_reasons() {
        assert_eq!(
            parse_ports("80, 443/tcp 53/udp").unwrap(),
            vec!["80/tcp", "443/tcp", "53/udp"]
        );
        assert_eq!(parse_ports("  ").unwrap(), Vec::<String>::new());
        assert_eq!(parse_ports("none").unwrap(), Vec::<String>::new());
        assert!(parse_ports("abc")
            .unwrap_err()
            .contains("\"abc\" is not a port"));
        assert!(parse_ports("70000").is_err());
        assert!(parse_ports("80/sctp").unwrap_err().contains("tcp or udp"));
    }

    #[test]
    fn entrypoints_split_as_a_shell_would() {
        assert_eq!(
            parse_entrypoint("/usr/sbin/nginx -g 'daemon off;'").unwrap(),
            vec!["/usr/sbin/nginx", "-g", "daemon off;"]
        );
        assert!(parse_entrypoint("/bin/x 'open").is_err());
        assert!(parse_entrypoint("").is_err());
    }

    #[test]
    fn output_must_have_a_parent_and_be_empty() {
        let d = tempfile::tempdir().unwrap();
        assert!(check_output(&d.path().join("new"), false).is_ok());
        let err = check_output(&d.path().join("no/such/dir"), false).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        std::fs::write(d.path().join("f"), "x").unwrap();
        assert!(check_output(d.path(), false)
            .unwrap_err()
            .contains("not empty"));
        assert!(check_output(d.path(), true).is_ok());
        assert_eq!(free_output(d.path(), true), d.path());
        let offered = free_output(d.path(), false);
        assert_eq!(
            offered.to_string_lossy(),
            format!("{}-2", d.path().display())
        );
    }
}
