//! The one list of names analyzers and plans may use for what cannot be data: hooks (Rust rules
//! run during analysis), configuration syntaxes (tokenizers) and populate strategies (how build
//! fills a volume when a copy of a live application's files would not be consistent).
//!
//! Analyzer files are checked against it when they load (`liftkit analyzers check` names an
//! unknown name with its file and line), and plans when they load (an unknown `populate_with`
//! is refused with its line), so nothing unknown reaches analysis or build. Adding one is a
//! function and a row here.

use crate::analyze::draft::Draft;
use crate::analyze::hooks::{self, HookContext};
use crate::analyze::syntax;
use crate::apps;
use crate::findings::Finding;
use crate::host::Host;
use crate::plan::{AppPlan, Volume};
use std::io;
use std::path::Path;

/// A Rust rule an analyzer names with `hook = "…"`: it reads what analysis read and adds to the
/// draft; it never writes anything.
pub struct Hook {
    pub name: &'static str,
    pub run: fn(&HookContext, &mut Draft),
}

/// (line, directive, arguments) for each directive of one file's text.
pub type Tokenizer = fn(&str) -> Vec<(usize, String, Vec<String>)>;

/// A configuration grammar an analyzer names with `config.syntax`.
pub struct Syntax {
    pub name: &'static str,
    pub tokenize: Tokenizer,
    /// Directive names match whatever their case (Apache).
    pub fold_case: bool,
    /// Directives whose first argument names files to read in place (globs allowed).
    pub includes: &'static [&'static str],
    /// `${VAR}` expands from the process environment and `Define`, and relative includes are
    /// taken against `ServerRoot` (Apache).
    pub server_root: bool,
}

/// Fills `dest` with the volume's data; `Ok(None)` when the caller should copy the files instead
/// (the reason is in the findings). Errors are the output's (it cannot be written).
pub type Populate =
    fn(&AppPlan, &Volume, &dyn Host, &Path, &mut Vec<Finding>) -> io::Result<Option<u64>>;

/// A way to fill a volume, named by an analyzer's `runtime.populate` and a plan's
/// `populate_with`.
pub struct Strategy {
    pub name: &'static str,
    /// What the volume then holds, for the plan's `why`.
    pub what: &'static str,
    pub populate: Populate,
}

pub const HOOKS: &[Hook] = &[
    Hook {
        name: "vendor-tree",
        run: hooks::vendor_tree,
    },
    Hook {
        name: "apache",
        run: apps::apache::hook,
    },
    Hook {
        name: "postgresql",
        run: apps::postgresql::hook,
    },
    Hook {
        name: "python",
        run: hooks::python::hook,
    },
    Hook {
        name: "tomcat",
        run: apps::tomcat::hook,
    },
];

pub const SYNTAXES: &[Syntax] = &[
    Syntax {
        name: "nginx",
        tokenize: apps::nginx::tokenize,
        fold_case: false,
        includes: &["include"],
        server_root: false,
    },
    Syntax {
        name: "redis",
        tokenize: |text| syntax::words::tokenize(text, false),
        fold_case: false,
        includes: &["include"],
        server_root: false,
    },
    Syntax {
        name: "apache",
        tokenize: apps::apache::conf::tokenize,
        fold_case: true,
        includes: &["include", "includeoptional"],
        server_root: true,
    },
    Syntax {
        name: "keyvalue",
        tokenize: |text| syntax::words::tokenize(text, true),
        fold_case: false,
        includes: &["include"],
        server_root: false,
    },
    Syntax {
        name: "postgresql",
        tokenize: apps::postgresql::conf::tokenize,
        fold_case: false,
        includes: &["include"],
        server_root: false,
    },
];

pub const STRATEGIES: &[Strategy] = &[
    Strategy {
        name: apps::postgresql::basebackup::STRATEGY,
        what: "a base backup of the running server, WAL included, owners and modes as on the host",
        populate: apps::postgresql::basebackup::populate,
    },
    Strategy {
        name: crate::harden::placement::SEED_FROM_IMAGE,
        what: "the image's own files under the directory, which a tmpfs would hide",
        populate: crate::build::volumes::seed_strategy,
    },
];

pub fn hook(name: &str) -> Option<&'static Hook> {
    HOOKS.iter().find(|h| h.name == name)
}

pub fn syntax(name: &str) -> Option<&'static Syntax> {
    SYNTAXES.iter().find(|s| s.name == name)
}

pub fn strategy(name: &str) -> Option<&'static Strategy> {
    STRATEGIES.iter().find(|s| s.name == name)
}

/// The kinds of names, for messages.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Hook,
    Syntax,
    Strategy,
}

/// `unknown hook "x" (known: a, b)`: the one wording for a name not in the registry.
pub fn unknown(kind: Kind, name: &str) -> String {
    let (what, names): (&str, Vec<&str>) = match kind {
        Kind::Hook => ("hook", HOOKS.iter().map(|h| h.name).collect()),
        Kind::Syntax => ("config syntax", SYNTAXES.iter().map(|s| s.name).collect()),
        Kind::Strategy => (
            "populate strategy",
            STRATEGIES.iter().map(|s| s.name).collect(),
        ),
    };
    format!("unknown {what} {name:?} (known: {})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_each_table() {
        let mut hooks: Vec<&str> = HOOKS.iter().map(|h| h.name).collect();
        let mut syntaxes: Vec<&str> = SYNTAXES.iter().map(|s| s.name).collect();
        let mut strategies: Vec<&str> = STRATEGIES.iter().map(|s| s.name).collect();
        for names in [&mut hooks, &mut syntaxes, &mut strategies] {
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{names:?}");
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        assert_eq!(
            unknown(Kind::Strategy, "rsync"),
            "unknown populate strategy \"rsync\" (known: pg_basebackup, image)"
        );
        assert!(hook("postgresql").is_some() && hook("nope").is_none());
        assert!(syntax("apache").is_some_and(|s| s.fold_case));
    }
}
