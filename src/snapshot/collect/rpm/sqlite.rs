//! `rpmdb.sqlite` (rpm ≥ 4.16: RHEL 9, Fedora 33+): the `Packages` table holds one header blob
//! per row.
//!
//! Opened read-only and `immutable`: SQLite then takes no lock and creates no `-shm` or `-wal`
//! file, which a read-only mount would refuse and a live host must not get.

use super::RpmDbError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

pub fn values(path: &Path) -> Result<Vec<Vec<u8>>, RpmDbError> {
    let uri = format!("file:{}?immutable=1", uri_escape(&path.to_string_lossy()));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(uri, flags).map_err(sql)?;
    let mut stmt = db
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(sql)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql)
}

fn sql(e: rusqlite::Error) -> RpmDbError {
    RpmDbError::Corrupt(format!("SQLite: {e}"))
}

/// Percent-encodes what a SQLite URI path may not hold literally.
fn uri_escape(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'%' | b'?' | b'#' | b' ' => format!("%{b:02X}"),
            b => (b as char).to_string(),
        })
        .collect()
}
