//! The jars a taken jar's manifest names (`Class-Path`). The JVM opens them only when a class
//! lookup first misses in the jars before them, often long after start-up (Jasper's JSP compiler,
//! Debian's `eclipse-jdt-core.jar`, on the first JSP request), so no open file or memory map of
//! the running process shows them, and a trial run only finds them when its probe happens to
//! reach that code.

use super::{AppFacts, Found};
use crate::analyze::hooks::jvm;
use crate::analyze::Inputs;
use crate::plan::{Confidence, Role};
use std::path::PathBuf;

pub fn class_paths(inp: &Inputs, facts: &AppFacts) -> Found {
    let jars: Vec<PathBuf> = facts
        .files
        .iter()
        .filter(|(p, ..)| p.ends_with(".jar"))
        .map(|(p, ..)| PathBuf::from(p))
        .collect();
    let mut found = Found::default();
    if jars.is_empty() {
        return found;
    }
    for (path, jar) in jvm::manifest_closure(inp.host, jars) {
        found.file(
            path.to_string_lossy(),
            Role::Code,
            format!("named in the Class-Path of {}'s manifest", jar.display()),
            Confidence::Declared,
        );
    }
    found
}
