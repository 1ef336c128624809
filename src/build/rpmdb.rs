//! Scanner records for images lifted from an rpm host: `/var/lib/rpm/rpmdb.sqlite` in the
//! image, listing exactly the rpm packages the image's files come from, so vulnerability
//! scanners (which read the rpm database as rpm ≥ 4.16 writes it) see what the image holds and
//! nothing the source host had besides.
//!
//! The headers are the source's own blobs, byte for byte; the tables are rpm's schema (rpm
//! refuses a database missing one of its index tables), `Packages` and `Name` filled. Written
//! with SQLite into a scratch file and read back: the same headers give the same bytes.

use crate::host::Host;
use crate::plan::AppPlan;
use crate::snapshot::collect::rpm;
use rusqlite::Connection;
use std::path::PathBuf;

/// The index tables rpm 4.16+ opens with a SQLite database.
const INDEXES: &[&str] = &[
    "Name",
    "Basenames",
    "Group",
    "Requirename",
    "Providename",
    "Conflictname",
    "Obsoletename",
    "Triggername",
    "Dirnames",
    "Installtid",
    "Sigmd5",
    "Sha1header",
    "Filetriggername",
    "Transfiletriggername",
    "Recommendname",
    "Suggestname",
    "Supplementname",
    "Enhancename",
];

pub const PATH: &str = "/var/lib/rpm/rpmdb.sqlite";

/// The database for `app`'s image, or None when the source has no rpm database or the image
/// holds no rpm package's files.
/// Returns the database's bytes and how many packages it lists.
pub fn for_image(app: &AppPlan, host: &dyn Host) -> Result<Option<(Vec<u8>, usize)>, String> {
    let Ok(Some((_, _, blobs))) = rpm::blobs(host) else {
        return Ok(None);
    };
    let wanted: Vec<&str> = app.packages.iter().map(|p| p.name.as_str()).collect();
    let mut chosen: Vec<(String, Vec<u8>)> = blobs
        .into_iter()
        .filter_map(|b| {
            let h = rpm::header::parse(&b).ok()?;
            wanted
                .contains(&h.name.as_str())
                .then(|| (format!("{} {} {}", h.name, h.evr, h.arch), b))
        })
        .collect();
    if chosen.is_empty() {
        return Ok(None);
    }
    chosen.sort();
    let scratch = scratch_file();
    let written =
        write(&scratch, &chosen).and_then(|()| std::fs::read(&scratch).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&scratch);
    written.map(|bytes| Some((bytes, chosen.len())))
}

fn write(path: &std::path::Path, rows: &[(String, Vec<u8>)]) -> Result<(), String> {
    let db = Connection::open(path).map_err(|e| e.to_string())?;
    let sql = |e: rusqlite::Error| e.to_string();
    // One file, no journal beside it; a fixed page size: the bytes depend on the rows alone.
    db.execute_batch("PRAGMA journal_mode=OFF; PRAGMA page_size=4096;")
        .map_err(sql)?;
    db.execute_batch("CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL);")
        .map_err(sql)?;
    for t in INDEXES {
        db.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS '{t}' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum));\
             CREATE INDEX '{t}_key_idx' ON '{t}'(key ASC);"
        ))
        .map_err(sql)?;
    }
    for (i, (key, blob)) in rows.iter().enumerate() {
        let hnum = i as i64 + 1;
        db.execute(
            "INSERT INTO Packages (hnum, blob) VALUES (?1, ?2)",
            rusqlite::params![hnum, blob],
        )
        .map_err(sql)?;
        let name = key.split(' ').next().unwrap_or_default();
        db.execute(
            "INSERT INTO Name (key, hnum, idx) VALUES (?1, ?2, 0)",
            rusqlite::params![name, hnum],
        )
        .map_err(sql)?;
    }
    Ok(())
}

fn scratch_file() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "liftkit-rpmdb-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}
