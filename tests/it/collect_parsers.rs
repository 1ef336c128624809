//! The pure parsers behind `collect`, on literal text: no live host involved.

use liftkit::snapshot::collect::{
    cpu_level_from_flags, parse_dpkg_status, parse_group, parse_passwd, unit_from_cgroup,
};

#[test]
fn unit_from_unified_cgroup() {
    assert_eq!(
        unit_from_cgroup("0::/system.slice/nginx.service\n").as_deref(),
        Some("nginx.service")
    );
    assert_eq!(
        unit_from_cgroup("0::/system.slice/getty.slice/getty@tty1.service\n").as_deref(),
        Some("getty@tty1.service")
    );
    // A user service under the user manager: the innermost service is the unit.
    assert_eq!(
        unit_from_cgroup(
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"
        )
        .as_deref(),
        Some("foo.service")
    );
    // Delegated sub-cgroups inside a service still belong to it.
    assert_eq!(
        unit_from_cgroup("0::/system.slice/postgresql@15-main.service/init.scope\n").as_deref(),
        Some("postgresql@15-main.service")
    );
}

#[test]
fn scopes_and_roots_are_no_unit() {
    assert_eq!(
        unit_from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
        None
    );
    assert_eq!(
        unit_from_cgroup("0::/system.slice/docker-4f2a.scope\n"),
        None
    );
    assert_eq!(unit_from_cgroup("0::/\n"), None);
    assert_eq!(unit_from_cgroup(""), None);
    assert_eq!(unit_from_cgroup("0::/system.slice/.service\n"), None);
}

#[test]
fn unit_from_v1_and_hybrid_cgroups() {
    let hybrid = "12:memory:/system.slice/redis-server.service\n\
                  1:name=systemd:/system.slice/redis-server.service\n\
                  0::/\n";
    assert_eq!(
        unit_from_cgroup(hybrid).as_deref(),
        Some("redis-server.service")
    );
    // Only name=systemd and the unified line count: a controller's path may be stale or custom.
    let controller_only = "4:memory:/system.slice/fake.service\n1:name=systemd:/\n0::/\n";
    assert_eq!(unit_from_cgroup(controller_only), None);
}

#[test]
fn dpkg_status_keeps_only_installed_packages() {
    let status = "\
Package: dpkg
Essential: yes
Status: install ok installed
Priority: required
Installed-Size: 6508
Architecture: amd64
Version: 1.21.22
Description: Debian package management system
 This package provides the low-level infrastructure.
 Status: install ok installed

Package: oldpkg
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4
Installed-Size: 12987

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u4

Package: half
Status: install reinstreq half-installed
Version: 3
";
    let pkgs = parse_dpkg_status(status);
    let summary: Vec<(&str, &str, &str, u64)> = pkgs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_str(),
                p.installed_kib,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("dpkg", "1.21.22", "amd64", 6508),
            ("libc6", "2.36-9+deb12u4", "amd64", 12987),
            ("libc6", "2.36-9+deb12u4", "i386", 0),
        ]
    );
}

#[test]
fn passwd_lines_are_kept_verbatim_and_bad_ones_reported() {
    let text = "\
root:x:0:0:root:/root:/bin/bash
# a comment
+@netgroup::::::
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
broken:x:notanumber:0::/:/bin/sh
short:x:1:1

nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";
    let mut findings = Vec::new();
    let users = parse_passwd(text, &mut findings);
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, vec!["root", "www-data", "nobody"]);
    let www = &users[1];
    assert_eq!((www.uid, www.gid), (33, 33));
    assert_eq!(www.home, "/var/www");
    assert_eq!(www.shell, "/usr/sbin/nologin");
    assert_eq!(
        www.line,
        "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin"
    );
    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, vec!["/etc/passwd:5", "/etc/passwd:6"]);
}

#[test]
fn group_members_are_split() {
    let text = "root:x:0:\nadm:x:4:syslog,alice\nbad:x:y:\n";
    let mut findings = Vec::new();
    let groups = parse_group(text, &mut findings);
    assert_eq!(groups.len(), 2);
    assert!(groups[0].members.is_empty());
    assert_eq!(groups[1].gid, 4);
    assert_eq!(groups[1].members, vec!["syslog", "alice"]);
    assert_eq!(groups[1].line, "adm:x:4:syslog,alice");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].subject, "/etc/group:3");
}

#[test]
fn cpu_levels_from_flags() {
    let v1 = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat clflush mmx fxsr sse sse2 syscall nx lm";
    let v2 = format!("{v1} cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3");
    let v3 = format!("{v2} avx avx2 bmi1 bmi2 f16c fma abm movbe xsave");
    let v4 = format!("{v3} avx512f avx512bw avx512cd avx512dq avx512vl");
    assert_eq!(cpu_level_from_flags(v1), 1);
    assert_eq!(cpu_level_from_flags(&v2), 2);
    assert_eq!(cpu_level_from_flags(&v3), 3);
    assert_eq!(cpu_level_from_flags(&v4), 4);
    // Levels are cumulative: AVX-512 without the v3 set (no movbe) is still v2.
    let gap = v4.replace(" movbe", "");
    assert_eq!(cpu_level_from_flags(&gap), 2);
    // Flags are whole words: `avx512fp16` is not `avx512f`.
    let lookalike = format!("{v3} avx512fp16 avx512bw avx512cd avx512dq avx512vl");
    assert_eq!(cpu_level_from_flags(&lookalike), 3);
}
