//! Facts about the host itself: name, distribution, kernel, CPU, boot parameters, addresses.

use super::{addrs, read_host_text, sysctl};
use crate::findings::Finding;
use crate::snapshot::HostInfo;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

pub fn host_info(findings: &mut Vec<Finding>) -> HostInfo {
    let uts = uname();
    if uts.is_none() {
        findings.push(Finding::warning("uname", "the kernel refused uname(2)"));
    }
    let (hostname, kernel, arch) = uts.unwrap_or_default();
    let cpu_level = match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(info) if arch == "x86_64" => cpu_level_from_cpuinfo(&info),
        Ok(_) => 0,
        Err(e) => {
            findings.push(Finding::warning(
                "/proc/cpuinfo",
                format!("unreadable: {e}"),
            ));
            0
        }
    };
    let boot_cmdline = std::fs::read_to_string("/proc/cmdline")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| {
            findings.push(Finding::warning(
                "/proc/cmdline",
                format!("unreadable: {e}"),
            ));
            String::new()
        });
    HostInfo {
        hostname,
        os_release: os_release(findings),
        kernel,
        arch,
        boot_cmdline,
        sysctls: sysctl::read(findings),
        cpu_level,
        addresses: addrs::ipv4_non_loopback(findings),
        selinux: String::new(),
    }
}

/// Node name, kernel release and machine, as the kernel reports them (not as this binary was
/// built: a 32-bit build may run on a 64-bit kernel).
fn uname() -> Option<(String, String, String)> {
    // SAFETY: utsname is plain bytes, so all-zero is a valid value; uname(2) fills it with
    // NUL-terminated strings within each array, and we only read it after it reports success.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let text = |field: &[libc::c_char]| {
        // SAFETY: the kernel terminates every field with a NUL inside the array.
        unsafe { CStr::from_ptr(field.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Some((text(&uts.nodename), text(&uts.release), text(&uts.machine)))
}

/// `/etc/os-release`, falling back to `/usr/lib/os-release` as the os-release(5) spec says.
fn os_release(findings: &mut Vec<Finding>) -> BTreeMap<String, String> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Ok(text) = read_host_text(Path::new(path)) {
            return parse_os_release(&text);
        }
    }
    findings.push(Finding::warning(
        "/etc/os-release",
        "neither it nor /usr/lib/os-release could be read: distribution unknown",
    ));
    BTreeMap::new()
}

/// Parses the shell-like `KEY=value` lines of os-release: values may be bare, single- or
/// double-quoted, with backslash escapes inside double quotes.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            Some((key.trim().to_string(), unquote(value.trim())))
        })
        .collect()
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// x86-64 micro-architecture level from the first `flags` line of `/proc/cpuinfo`; 0 if absent.
fn cpu_level_from_cpuinfo(info: &str) -> u8 {
    info.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "flags").then_some(value)
        })
        .map(cpu_level_from_flags)
        .unwrap_or(0)
}

/// The x86-64 psABI level (1–4) a CPU with these `/proc/cpuinfo` flags reaches. Every x86-64 CPU
/// is level 1; each higher level needs all of its flags and those of the levels below. Linux shows
/// LZCNT as `abm`.
pub fn cpu_level_from_flags(flags: &str) -> u8 {
    const V2: &[&str] = &["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"];
    const V3: &[&str] = &[
        "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
    ];
    const V4: &[&str] = &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];
    let have: Vec<&str> = flags.split_whitespace().collect();
    let all = |needed: &[&str]| needed.iter().all(|f| have.contains(f));
    let mut level = 1;
    for needed in [V2, V3, V4] {
        if !all(needed) {
            break;
        }
        level += 1;
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quoting() {
        let m = parse_os_release(
            "# comment\nID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n\
             VERSION_ID='12'\nX=\"a \\\"b\\\" \\$c\"\n",
        );
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(m["VERSION_ID"], "12");
        assert_eq!(m["X"], "a \"b\" $c");
    }

    #[test]
    fn cpu_level_from_cpuinfo_text() {
        let info = "processor\t: 0\nflags\t\t: fpu cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3\n";
        assert_eq!(cpu_level_from_cpuinfo(info), 2);
        assert_eq!(cpu_level_from_cpuinfo("processor: 0\n"), 0);
    }
}
