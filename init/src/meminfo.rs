//! The guest's memory use as the kernel counts it: MemTotal − MemAvailable from /proc/meminfo,
//! logged when the host is asked to power off (after it served), for `liftkit bench footprint`.

/// `(total, available)` in kB.
pub fn read() -> Option<(u64, u64)> {
    parse(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

pub fn log_usage() {
    if let Some((total, available)) = read() {
        crate::log(&format!(
            "memory: used {} kB (MemTotal {total} kB - MemAvailable {available} kB)",
            total.saturating_sub(available)
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_meminfo() {
        let text = "MemTotal:          49152 kB\nMemFree:           20000 kB\nMemAvailable:      28848 kB\n";
        assert_eq!(super::parse(text), Some((49152, 28848)));
        assert_eq!(super::parse("MemTotal: 1 kB\n"), None);
    }
}
