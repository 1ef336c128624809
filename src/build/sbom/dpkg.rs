//! dpkg's records of the packages an image draws files from, laid out as distroless Debian
//! images carry them: one stanza per package in `/var/lib/dpkg/status.d/<package>` and the
//! package's checksums of the files the image holds in `<package>.md5sums` beside it. syft,
//! grype, trivy and the other scanners read this form, so they see what is inside without a dpkg
//! database.

use super::Record;
use crate::host::Host;
use crate::plan::{AppPlan, PackageUse};
use std::collections::BTreeSet;
use std::path::Path;

const STATUS_D: &str = "/var/lib/dpkg/status.d";
const INFO_DIR: &str = "/var/lib/dpkg/info";

/// One record and one checksum list per package, for the files `paths` the image holds.
pub fn records(
    app: &AppPlan,
    packages: &[&PackageUse],
    paths: &BTreeSet<String>,
    host: &dyn Host,
) -> Vec<Record> {
    let _ = app;
    let mut out = Vec::new();
    for p in packages {
        out.push(Record {
            path: format!("{STATUS_D}/{}", p.name),
            bytes: stanza(p).into_bytes(),
        });
        if let Some(sums) = md5sums(p, paths, host) {
            out.push(Record {
                path: format!("{STATUS_D}/{}.md5sums", p.name),
                bytes: sums.into_bytes(),
            });
        }
    }
    out
}

/// The status stanza: the fields scanners match advisories by (name, version, architecture,
/// source package), in dpkg's order.
fn stanza(p: &PackageUse) -> String {
    let mut s = format!("Package: {}\nStatus: install ok installed\n", p.name);
    if p.installed_kib > 0 {
        s.push_str(&format!("Installed-Size: {}\n", p.installed_kib));
    }
    if !p.arch.is_empty() {
        s.push_str(&format!("Architecture: {}\n", p.arch));
    }
    if !p.source.is_empty() {
        s.push_str(&format!("Source: {}\n", p.source));
    }
    s.push_str(&format!("Version: {}\n", p.version));
    s
}

/// The lines of the host's `<package>.md5sums` (dpkg's own checksums, as installed) for files
/// the image holds: scanners learn which files are the package's, and that no other package or
/// binary detector should claim them.
fn md5sums(p: &PackageUse, paths: &BTreeSet<String>, host: &dyn Host) -> Option<String> {
    let names = [
        format!("{}:{}.md5sums", p.name, p.arch),
        format!("{}.md5sums", p.name),
    ];
    let text = names
        .iter()
        .find_map(|n| host.read_to_string(&Path::new(INFO_DIR).join(n)).ok())?;
    let kept: String = text
        .lines()
        .filter(|line| {
            line.split_once("  ")
                .is_some_and(|(_, path)| in_image(paths, &format!("/{path}")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// dpkg may list `/lib/x` for what a merged-/usr host keeps at `/usr/lib/x`, and the reverse.
fn in_image(paths: &BTreeSet<String>, path: &str) -> bool {
    if paths.contains(path) {
        return true;
    }
    match path.strip_prefix("/usr") {
        Some(rest) => paths.contains(rest),
        None => paths.contains(&format!("/usr{path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stanza_names_what_scanners_match() {
        let p = PackageUse {
            name: "libssl3".into(),
            version: "3.0.15-1~deb12u1".into(),
            installed_kib: 6000,
            arch: "amd64".into(),
            source: "openssl".into(),
        };
        assert_eq!(
            stanza(&p),
            "Package: libssl3\nStatus: install ok installed\nInstalled-Size: 6000\n\
             Architecture: amd64\nSource: openssl\nVersion: 3.0.15-1~deb12u1\n"
        );
    }

    #[test]
    fn checksums_only_for_files_the_image_holds() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(
            info.join("zlib1g:amd64.md5sums"),
            "aa  lib/x86_64-linux-gnu/libz.so.1.2.13\nbb  usr/share/doc/zlib1g/changelog.gz\n",
        )
        .unwrap();
        let host = crate::host::at(dir.path());
        let p = PackageUse {
            name: "zlib1g".into(),
            version: "1:1.2.13".into(),
            installed_kib: 1,
            arch: "amd64".into(),
            source: "zlib".into(),
        };
        let paths: BTreeSet<String> =
            ["/usr/lib/x86_64-linux-gnu/libz.so.1.2.13".to_string()].into();
        assert_eq!(
            md5sums(&p, &paths, &host).as_deref(),
            Some("aa  lib/x86_64-linux-gnu/libz.so.1.2.13\n")
        );
        assert_eq!(md5sums(&p, &BTreeSet::new(), &host), None);
    }
}
