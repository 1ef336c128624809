//! Kernel modules, loaded in the order host-image resolved from modules.dep (dependencies first).

use crate::{log, sys, warn};

pub fn load(paths: &[String]) {
    let mut loaded = 0;
    for path in paths {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                warn(&format!("module {path}: {e}"));
                continue;
            }
        };
        match sys::finit_module(&file) {
            Ok(()) => loaded += 1,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => warn(&format!("module {path}: {e}")),
        }
    }
    log(&format!("loaded {loaded} kernel modules"));
}
