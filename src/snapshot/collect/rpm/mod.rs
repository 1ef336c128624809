//! The rpm package database of a RHEL-family host, in each of its three forms: SQLite (RHEL 9,
//! Fedora), Berkeley DB hash (RHEL ≤ 8, CentOS 7) and ndb (SUSE). Each reader yields the header
//! blobs; [`header::parse`] decodes them alike.
//!
//! Read through the `Host`, never with the host's own `rpm`: collect runs nothing on the host.

mod bdb;
pub mod header;
pub mod ndb;
mod sqlite;

use crate::host::Host;
use crate::snapshot::Package;
use header::{DigestAlgo, RpmHeader};
use std::io::Read;
use std::path::{Path, PathBuf};

pub use header::RpmFile;

/// Where rpm keeps its database: Fedora ≥ 36 moved it under /usr (with a link from /var/lib/rpm).
const DB_DIRS: &[&str] = &["/var/lib/rpm", "/usr/lib/sysimage/rpm"];
/// A Packages file on a large server is a few hundred MiB at most.
const MAX_DB: u64 = 2 << 30;

#[derive(Debug, thiserror::Error)]
pub enum RpmDbError {
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    BerkeleyDb,
    Ndb,
}

impl Format {
    pub fn file(self) -> &'static str {
        match self {
            Format::Sqlite => "rpmdb.sqlite",
            Format::BerkeleyDb => "Packages",
            Format::Ndb => "Packages.db",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpmDb {
    pub format: Format,
    /// In-root path of the database file.
    pub path: PathBuf,
    pub packages: Vec<RpmHeader>,
    /// Headers that could not be decoded: reported, the rest still used.
    pub skipped: Vec<String>,
}

/// Finds and reads the host's rpm database; `Ok(None)` on a host without one.
pub fn read(host: &dyn Host) -> Result<Option<RpmDb>, RpmDbError> {
    let Some((format, path, blobs)) = blobs(host)? else {
        return Ok(None);
    };
    let mut packages = Vec::new();
    let mut skipped = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        match header::parse(blob) {
            Ok(h) => packages.push(h),
            Err(e) => skipped.push(format!("record {}: {e}", i + 1)),
        }
    }
    packages.sort_by(|a, b| (&a.name, &a.arch, &a.evr).cmp(&(&b.name, &b.arch, &b.evr)));
    Ok(Some(RpmDb {
        format,
        path,
        packages,
        skipped,
    }))
}

/// A database's format, in-host path and header blobs as stored.
pub type Blobs = (Format, PathBuf, Vec<Vec<u8>>);

/// The database's header blobs as stored, with its format and in-host path.
pub fn blobs(host: &dyn Host) -> Result<Option<Blobs>, RpmDbError> {
    let Some((format, path)) = locate(host) else {
        return Ok(None);
    };
    let io = |source| RpmDbError::Io {
        path: path.display().to_string(),
        source,
    };
    let blobs = match format {
        Format::Sqlite => {
            // SQLite wants a path: the opened file's descriptor is one, whatever the host.
            let file = host.open(&path).map_err(io)?;
            sqlite::values(&fd_path(&file))?
        }
        Format::BerkeleyDb | Format::Ndb => {
            let mut bytes = Vec::new();
            host.open(&path)
                .and_then(|f| f.take(MAX_DB).read_to_end(&mut bytes))
                .map_err(io)?;
            if format == Format::Ndb {
                ndb::values(&bytes)?
            } else {
                bdb::values(&bytes)?
            }
        }
    };
    Ok(Some((format, path, blobs)))
}

fn fd_path(file: &std::fs::File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// The host's rpm packages for the snapshot; a database that cannot be read is a finding.
pub fn packages(host: &dyn Host, findings: &mut Vec<crate::findings::Finding>) -> Vec<Package> {
    use crate::findings::Finding;
    match read(host) {
        Ok(None) => Vec::new(),
        Ok(Some(db)) => {
            let subject = db.path.display().to_string();
            for s in &db.skipped {
                findings.push(Finding::warning(
                    &subject,
                    format!("rpm header skipped: {s}"),
                ));
            }
            findings.push(Finding::info(
                &subject,
                format!(
                    "rpm database ({:?}): {} packages",
                    db.format,
                    db.packages.len()
                ),
            ));
            db.snapshot_packages()
        }
        Err(e) => {
            findings.push(Finding::warning(
                "rpm database",
                format!("could not be read: {e}"),
            ));
            Vec::new()
        }
    }
}

/// The newest format present wins: an upgraded host may keep the old file beside the new one.
fn locate(host: &dyn Host) -> Option<(Format, PathBuf)> {
    DB_DIRS.iter().find_map(|dir| {
        [Format::Sqlite, Format::Ndb, Format::BerkeleyDb]
            .into_iter()
            .map(|f| (f, Path::new(dir).join(f.file())))
            .find(|(_, p)| host.stat(p).is_ok_and(|m| m.is_file() && m.len() > 0))
    })
}

impl RpmDb {
    /// Packages as the snapshot records them (`installed_kib` from the header's SIZE).
    pub fn snapshot_packages(&self) -> Vec<Package> {
        self.packages
            .iter()
            .filter(|h| h.name != "gpg-pubkey")
            .map(|h| Package {
                name: h.name.clone(),
                version: h.evr.clone(),
                arch: h.arch.clone(),
                installed_kib: h.size.div_ceil(1024),
                source: String::new(),
            })
            .collect()
    }
}

/// Whether a `%config` file differs from what its package installed, by the digest rpm
/// recorded: `None` when it cannot tell (no digest, an algorithm liftkit does not compute, an
/// unreadable file).
pub fn config_changed(host: &dyn Host, algo: DigestAlgo, file: &RpmFile) -> Option<bool> {
    use sha2::Digest;
    if file.digest.is_empty() || file.mode & 0o170000 != 0o100000 {
        return None;
    }
    let mut f = host.open(Path::new(&file.path)).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let now = match algo {
        DigestAlgo::Sha256 => hex::encode(sha2::Sha256::digest(&bytes)),
        DigestAlgo::Md5 => hex::encode(md5::Md5::digest(&bytes)),
        _ => return None,
    };
    Some(!now.eq_ignore_ascii_case(&file.digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ndb_database_from_a_root_and_tells_changed_configs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        std::fs::write(
            root.join("var/lib/rpm/Packages.db"),
            ndb::write(&[header::tests::sample("httpd")]),
        )
        .unwrap();
        let host = crate::host::at(root);
        let db = read(&host).unwrap().unwrap();
        assert_eq!(db.format, Format::Ndb);
        assert_eq!(db.packages[0].name, "httpd");
        assert_eq!(db.snapshot_packages()[0].version, "1:2.4.57-5.el9");
        assert_eq!(db.snapshot_packages()[0].installed_kib, 4);

        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/a.conf"), b"hello\n").unwrap();
        let mut f = RpmFile {
            path: "/etc/a.conf".into(),
            mode: 0o100644,
            config: true,
            digest: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"hello\n")),
        };
        assert_eq!(config_changed(&host, DigestAlgo::Sha256, &f), Some(false));
        f.digest = "00".into();
        assert_eq!(config_changed(&host, DigestAlgo::Sha256, &f), Some(true));
        assert_eq!(config_changed(&host, DigestAlgo::Other(9), &f), None);
    }

    #[test]
    fn a_host_without_rpm_has_no_database() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&crate::host::at(dir.path())).unwrap().is_none());
    }
}
