//! Rules that cannot be data, each a Rust function named by an analyzer's `hook = "…"`.

/// Every hook an analyzer may name.
pub const NAMES: &[&str] = &[];

pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}
