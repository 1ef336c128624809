//! A host whose files are not at hand: a snapshot from another machine without a bundle, analyzed
//! from its inventory alone. Every path is absent, so analysis says what it could not see instead
//! of reading the files of whatever machine it runs on.

use super::Host;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

fn absent(abs: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: the source host's files are not at hand", abs.display()),
    )
}

impl Host for NoFiles {
    fn describe(&self) -> String {
        "no files (inventory only)".to_string()
    }

    fn root_label(&self) -> String {
        String::new()
    }

    fn boxed(&self) -> Box<dyn Host> {
        Box::new(*self)
    }

    fn lstat(&self, abs: &Path) -> io::Result<Metadata> {
        Err(absent(abs))
    }

    fn read_link(&self, abs: &Path) -> io::Result<PathBuf> {
        Err(absent(abs))
    }

    fn list(&self, abs: &Path) -> io::Result<Vec<OsString>> {
        Err(absent(abs))
    }

    fn open_resolved(&self, abs: &Path) -> io::Result<File> {
        Err(absent(abs))
    }
}
