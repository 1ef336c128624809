//! The package that owns the executable says which configuration is its own: its conffiles
//! (dpkg's `<pkg>.conffiles` and the `Conffiles:` of its status entry) and the other files its
//! list puts under /etc. What only the init system, cron or logrotate reads is left out: the
//! container runs the program, not its host's housekeeping.

use super::{AppFacts, Found};
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use std::collections::BTreeSet;
use std::path::Path;

const INFO_DIR: &str = "/var/lib/dpkg/info";
const STATUS: &str = "/var/lib/dpkg/status";

/// Configuration of the host's housekeeping, not of the program.
const HOUSEKEEPING: &[&str] = &[
    "/etc/init.d/",
    "/etc/init/",
    "/etc/rc",
    "/etc/cron",
    "/etc/logrotate.d/",
    "/etc/systemd/",
    "/etc/apparmor.d/",
    "/etc/default/",
    "/etc/insserv.conf.d/",
    "/etc/logcheck/",
    "/etc/ufw/",
    "/etc/bash_completion.d/",
    "/etc/sv/",
    "/etc/runit/",
    "/etc/monit/",
    "/etc/X11/",
    "/etc/menu",
];

pub fn of_package(inp: &Inputs, app: &AppFacts) -> Found {
    let mut found = Found::default();
    let Some(pkg) = app.package.as_deref() else {
        return found;
    };
    if let Some(given) = app.config_on_command_line() {
        found.findings.push(crate::findings::Finding::info(
            format!("package {pkg}"),
            format!("its configuration files are not taken: the command line names the configuration ({given})"),
        ));
        return found;
    }
    let mut files: BTreeSet<String> = BTreeSet::new();
    let mut conffiles: BTreeSet<String> = BTreeSet::new();
    for name in info_names(inp, pkg) {
        let read = |ext: &str| {
            inp.host
                .read_to_string(&Path::new(INFO_DIR).join(format!("{name}.{ext}")))
                .unwrap_or_default()
        };
        conffiles.extend(read("conffiles").lines().map(|l| l.trim().to_string()));
        files.extend(
            read("list")
                .lines()
                .filter(|l| l.starts_with("/etc/"))
                .map(str::to_string),
        );
    }
    conffiles.extend(status_conffiles(inp, pkg));
    for path in conffiles.iter().chain(files.iter()) {
        if !path.starts_with("/etc/") || HOUSEKEEPING.iter().any(|h| path.starts_with(h)) {
            continue;
        }
        if !inp.host.stat(Path::new(path)).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let why = if conffiles.contains(path) {
            format!("conffile of package {pkg}, which owns the executable")
        } else {
            format!("installed under /etc by package {pkg}, which owns the executable")
        };
        found.file(path.clone(), Role::Config, why, Confidence::Declared);
    }
    found
}

/// `nginx` and `nginx:amd64` (multi-arch packages name their info files with the arch).
fn info_names(inp: &Inputs, pkg: &str) -> Vec<String> {
    let Ok(names) = inp.host.read_dir(Path::new(INFO_DIR)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = names
        .iter()
        .filter_map(|n| n.to_str()?.strip_suffix(".list").map(str::to_string))
        .filter(|n| n == pkg || n.split_once(':').is_some_and(|(p, _)| p == pkg))
        .collect();
    out.sort();
    out
}

/// The conffiles dpkg's status records for `pkg`, without those it marks obsolete.
fn status_conffiles(inp: &Inputs, pkg: &str) -> Vec<String> {
    let Ok(text) = inp.host.read_to_string(Path::new(STATUS)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let is_pkg = stanza
            .lines()
            .any(|l| l.strip_prefix("Package:").is_some_and(|v| v.trim() == pkg));
        if !is_pkg {
            continue;
        }
        let mut in_conffiles = false;
        for line in stanza.lines() {
            if line.starts_with("Conffiles:") {
                in_conffiles = true;
            } else if in_conffiles && line.starts_with(' ') {
                let mut words = line.split_whitespace();
                let path = words.next().unwrap_or_default();
                let obsolete = words.any(|w| w == "obsolete" || w == "remove-on-upgrade");
                if path.starts_with('/') && !obsolete {
                    out.push(path.to_string());
                }
            } else {
                in_conffiles = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{find, has, process, Fixture};
    use super::*;

    #[test]
    fn conffiles_and_etc_files_of_the_owning_package() {
        let fx = Fixture::new();
        fx.write(
            "/var/lib/dpkg/info/lkd:amd64.list",
            "/usr/sbin/lkd\n/etc/lkd\n/etc/lkd/lkd.conf\n/etc/lkd/mime.map\n/etc/init.d/lkd\n",
        )
        .write(
            "/var/lib/dpkg/info/lkd:amd64.conffiles",
            "/etc/lkd/lkd.conf\n/etc/init.d/lkd\n",
        )
        .write(
            "/var/lib/dpkg/status",
            "Package: other\nConffiles:\n /etc/other.conf abc\n\n\
             Package: lkd\nStatus: install ok installed\nConffiles:\n /etc/lkd/lkd.conf abc\n \
             /etc/lkd/old.conf def obsolete\nDescription: x\n",
        )
        .write("/usr/sbin/lkd", "\x7fELF")
        .write("/etc/lkd/lkd.conf", "a\n")
        .write("/etc/lkd/mime.map", "b\n")
        .write("/etc/lkd/old.conf", "c\n")
        .write("/etc/init.d/lkd", "#!/bin/sh\n")
        .write("/etc/other.conf", "d\n");
        let found = fx.run(of_package, process("/usr/sbin/lkd", &["lkd"], "/"), &[]);
        assert!(find(&found, "/etc/lkd/lkd.conf")
            .why
            .contains("conffile of package lkd"));
        assert!(find(&found, "/etc/lkd/mime.map")
            .why
            .contains("installed under /etc"));
        for absent in [
            "/etc/init.d/lkd",
            "/etc/lkd/old.conf",
            "/etc/other.conf",
            "/etc/lkd",
        ] {
            assert!(!has(&found, absent), "{absent}: {:#?}", found.evidence);
        }
    }
}
