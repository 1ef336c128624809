//! The guest's memory use as the kernel counts it: MemTotal − MemAvailable from /proc/meminfo,
//! logged when the host is asked to power off (after it served), for `liftkit bench footprint`.

fn field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
}

/// `(total, available)` in kB.
fn parse(text: &str) -> Option<(u64, u64)> {
    Some((field(text, "MemTotal:")?, field(text, "MemAvailable:")?))
}

/// Where the used memory is, in the kernel's words: what processes hold (anonymous pages),
/// what tmpfs and the initramfs hold (Shmem), and the kernel's own unreclaimable allocations.
const PARTS: [&str; 6] = [
    "AnonPages:",
    "Shmem:",
    "SUnreclaim:",
    "KernelStack:",
    "PageTables:",
    "Percpu:",
];

fn breakdown(text: &str) -> String {
    PARTS
        .iter()
        .filter_map(|name| {
            let kb = field(text, name)?;
            Some(format!("{} {kb} kB", name.trim_end_matches(':')))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn log_usage() {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return;
    };
    if let Some((total, available)) = parse(&text) {
        crate::log(&format!(
            "memory: used {} kB (MemTotal {total} kB - MemAvailable {available} kB)",
            total.saturating_sub(available)
        ));
        crate::log(&format!("memory: of which {}", breakdown(&text)));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_meminfo() {
        let text = "MemTotal:          49152 kB\nMemFree:           20000 kB\nMemAvailable:      28848 kB\n";
        assert_eq!(super::parse(text), Some((49152, 28848)));
        assert_eq!(super::parse("MemTotal: 1 kB\n"), None);
        let text = "AnonPages:  1200 kB\nShmem: 300 kB\nSUnreclaim: 4000 kB\n";
        assert_eq!(
            super::breakdown(text),
            "AnonPages 1200 kB, Shmem 300 kB, SUnreclaim 4000 kB"
        );
    }
}
