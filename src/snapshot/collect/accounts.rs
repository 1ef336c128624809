//! Users and groups from `/etc/passwd` and `/etc/group`, each with its line kept verbatim so an
//! image can carry exactly the entries its application runs as.
//!
//! Only the files are read, never NSS: a user that lives in LDAP or systemd's dynamic users is not
//! a line an image can copy, and asking NSS could load arbitrary modules on the customer's host.

use super::read_host_text_or_note;
use crate::findings::Finding;
use crate::snapshot::{Group, User};

pub fn read(findings: &mut Vec<Finding>) -> (Vec<User>, Vec<Group>) {
    let users = read_host_text_or_note("/etc/passwd", findings)
        .map(|text| parse_passwd(&text, findings))
        .unwrap_or_default();
    let groups = read_host_text_or_note("/etc/group", findings)
        .map(|text| parse_group(&text, findings))
        .unwrap_or_default();
    (users, groups)
}

/// Parses `/etc/passwd` text. Malformed lines become findings; NIS compat lines (`+`, `-`) and
/// comments are skipped, having no account of their own.
pub fn parse_passwd(text: &str, findings: &mut Vec<Finding>) -> Vec<User> {
    entries(text)
        .filter_map(|(n, line)| {
            let user = passwd_entry(line);
            if user.is_none() {
                findings.push(malformed("/etc/passwd", n));
            }
            user
        })
        .collect()
}

/// Parses `/etc/group` text, with the same tolerance as [`parse_passwd`].
pub fn parse_group(text: &str, findings: &mut Vec<Finding>) -> Vec<Group> {
    entries(text)
        .filter_map(|(n, line)| {
            let group = group_entry(line);
            if group.is_none() {
                findings.push(malformed("/etc/group", n));
            }
            group
        })
        .collect()
}

/// Lines that should hold an entry, numbered from 1 for findings.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let skip = line.trim().is_empty()
            || line.starts_with('#')
            || line.starts_with('+')
            || line.starts_with('-');
        (!skip).then_some((i + 1, line))
    })
}

fn passwd_entry(line: &str) -> Option<User> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() != 7 || f[0].is_empty() {
        return None;
    }
    Some(User {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        home: f[5].to_string(),
        shell: f[6].to_string(),
        line: line.to_string(),
    })
}

fn group_entry(line: &str) -> Option<Group> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() != 4 || f[0].is_empty() {
        return None;
    }
    Some(Group {
        name: f[0].to_string(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
        line: line.to_string(),
    })
}

fn malformed(path: &str, line: usize) -> Finding {
    Finding::warning(
        format!("{path}:{line}"),
        "malformed entry skipped".to_string(),
    )
}
