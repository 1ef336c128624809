//! Which CPU-specific library variants ld.so would pick, for a chosen x86-64 micro-architecture
//! level rather than for the machine running liftkit: the image may run on an older CPU.
//!
//! glibc 2.33+ searches `glibc-hwcaps/x86-64-v{4,3,2}` under every search directory (highest
//! supported first); glibc up to 2.36 also searches the legacy subdirectories (`tls`, `haswell`,
//! `avx512_1`, `x86_64` and their combinations). The legacy set modelled here is the one an Intel
//! CPU of that level gets (`haswell` is an Intel-only platform name in glibc); no distribution
//! ships libraries there any more.

use crate::host::Host;
use std::path::Path;

/// /proc/cpuinfo flag names each level adds (x86-64 psABI), as Linux spells them.
const V2: &[&str] = &[
    "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3",
];
const V3: &[&str] = &[
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
];
const V4: &[&str] = &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

/// The x86-64 level of the first CPU in `/proc/cpuinfo` (read through the host: a recorded
/// host carries its own), or None when there is no x86 flags line.
pub fn detect_level(host: &dyn Host) -> Option<u8> {
    let text = host.read_to_string(Path::new("/proc/cpuinfo")).ok()?;
    let flags = text
        .lines()
        .find(|l| l.starts_with("flags"))?
        .split_once(':')?
        .1;
    Some(level_from_flags(flags))
}

pub fn level_from_flags(flags: &str) -> u8 {
    let have: std::collections::HashSet<&str> = flags.split_whitespace().collect();
    let all = |set: &[&str]| set.iter().all(|f| have.contains(f));
    if !all(V2) {
        1
    } else if !all(V3) {
        2
    } else if !all(V4) {
        3
    } else {
        4
    }
}

/// The CPU-dependent parts of the search, for one target level.
#[derive(Debug, Clone)]
pub struct HwCaps {
    pub level: u8,
    /// `glibc-hwcaps` subdirectory names usable at this level, best first.
    pub glibc: Vec<String>,
    /// Every subdirectory tried under a search directory, in order, ending with "" (the
    /// directory itself).
    pub subdirs: Vec<String>,
    /// What `$PLATFORM` expands to.
    pub platform: String,
}

impl HwCaps {
    /// x86-64 targets get the level's variants; other machines only the directory itself.
    pub fn new(level: u8, x86_64: bool) -> Self {
        if !x86_64 {
            return HwCaps {
                level,
                glibc: Vec::new(),
                subdirs: vec![String::new()],
                platform: String::new(),
            };
        }
        let level = level.clamp(1, 4);
        let glibc: Vec<String> = (2..=level).rev().map(|v| format!("x86-64-v{v}")).collect();
        let platform = if level >= 3 { "haswell" } else { "x86_64" };
        let mut subdirs: Vec<String> = glibc.iter().map(|g| format!("glibc-hwcaps/{g}")).collect();
        subdirs.extend(legacy_subdirs(level));
        HwCaps {
            level,
            glibc,
            subdirs,
            platform: platform.to_string(),
        }
    }

    /// glibc's `glibc_hwcaps_priority`: lower is better; None when not usable at this level.
    pub fn priority(&self, name: &str) -> Option<u32> {
        self.glibc
            .iter()
            .position(|g| g == name)
            .map(|p| p as u32 + 1)
    }
}

/// All combinations of the legacy capability names, in `_dl_important_hwcaps` order: the
/// names are ordered hwcap bits, platform, "tls", and each combination is written last-first.
fn legacy_subdirs(level: u8) -> Vec<String> {
    let mut names = vec!["x86_64"];
    if level >= 4 {
        names.push("avx512_1");
    }
    if level >= 3 {
        names.push("haswell");
    }
    names.push("tls");
    let cnt = names.len();
    let all = (1usize << cnt) - 1;
    (0..=all)
        .map(|i| {
            let mask = all - i;
            (0..cnt)
                .rev()
                .filter(|n| mask & (1 << n) != 0)
                .map(|n| names[n])
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_four_matches_glibc_2_36_search_order() {
        let h = HwCaps::new(4, true);
        assert_eq!(
            &h.subdirs[..4],
            &[
                "glibc-hwcaps/x86-64-v4",
                "glibc-hwcaps/x86-64-v3",
                "glibc-hwcaps/x86-64-v2",
                "tls/haswell/avx512_1/x86_64"
            ]
        );
        assert_eq!(h.subdirs[4], "tls/haswell/avx512_1");
        assert_eq!(h.subdirs.last().unwrap(), "");
        assert_eq!(h.subdirs.len(), 3 + 16);
        assert_eq!(h.priority("x86-64-v4"), Some(1));
        assert_eq!(HwCaps::new(2, true).priority("x86-64-v3"), None);
        assert_eq!(
            HwCaps::new(1, true).subdirs,
            vec!["tls/x86_64", "tls", "x86_64", ""]
        );
    }

    #[test]
    fn levels_from_flags() {
        assert_eq!(level_from_flags("fpu sse2"), 1);
        let v2 = "cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3";
        assert_eq!(level_from_flags(v2), 2);
        let v3 = format!("{v2} avx avx2 bmi1 bmi2 f16c fma abm movbe xsave");
        assert_eq!(level_from_flags(&v3), 3);
        let v4 = format!("{v3} avx512f avx512bw avx512cd avx512dq avx512vl");
        assert_eq!(level_from_flags(&v4), 4);
    }
}
