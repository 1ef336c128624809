//! Bad input never panics, hangs or grows memory without bound: truncated, corrupt and non-ELF
//! files, absurd header counts, DT_NEEDED cycles, a RUNPATH naming its own directory, and
//! millions of dynamic entries all end with warnings and a bounded result.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use liftkit::elf::{LoaderEnv, Resolution, ResolveOptions, Resolver};

/// A minimal x86-64 ET_DYN: one PT_LOAD over the whole file, a PT_DYNAMIC, and a string table.
fn tiny_elf(
    needed: &[&str],
    rpath: Option<&str>,
    runpath: Option<&str>,
    soname: Option<&str>,
    repeat_needed: usize,
) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut add = |s: &str| {
        let off = strtab.len() as u64;
        strtab.extend_from_slice(s.as_bytes());
        strtab.push(0);
        off
    };
    let mut dyns: Vec<(u64, u64)> = Vec::new();
    for n in needed {
        let off = add(n);
        for _ in 0..repeat_needed.max(1) {
            dyns.push((1, off));
        }
    }
    if let Some(s) = soname {
        dyns.push((14, add(s)));
    }
    if let Some(s) = rpath {
        dyns.push((15, add(s)));
    }
    if let Some(s) = runpath {
        dyns.push((29, add(s)));
    }
    let str_at = 64 + 2 * 56;
    let dyn_at = (str_at + strtab.len() + 7) & !7;
    dyns.push((5, str_at as u64));
    dyns.push((10, strtab.len() as u64));
    dyns.push((0, 0));
    let total = dyn_at + dyns.len() * 16;
    let mut b = Vec::with_capacity(total);
    b.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    for v in [3u16, 62] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes());
    for v in [0u64, 64, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 2, 64, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let phdr = |b: &mut Vec<u8>, kind: u32, off: u64, size: u64| {
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&6u32.to_le_bytes());
        for v in [off, off, off, size, size, 8] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    };
    phdr(&mut b, 1, 0, total as u64);
    phdr(&mut b, 2, dyn_at as u64, (dyns.len() * 16) as u64);
    b.extend_from_slice(&strtab);
    b.resize(dyn_at, 0);
    for (t, v) in dyns {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn root_with(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("usr/lib/x86_64-linux-gnu")).unwrap();
    for (path, bytes) in files {
        let p = dir.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

fn resolve_in(root: &Path, file: &str) -> (Resolution, Duration) {
    let t = Instant::now();
    let r = Resolver::new(
        &liftkit::host::at(root),
        ResolveOptions { cpu_level: Some(1) },
    );
    let res = r.resolve(Path::new(file), &LoaderEnv::default());
    let _ = r.dlopen_evidence(Path::new(file));
    (res, t.elapsed())
}

#[test]
fn non_elf_and_empty_files_are_warnings() {
    let dir = root_with(&[
        ("/bin/text", b"#!/bin/sh\necho hi\n".to_vec()),
        ("/bin/empty", Vec::new()),
        ("/bin/magic-only", b"\x7fELF".to_vec()),
        (
            "/bin/prog",
            tiny_elf(&["libnot.so"], Some("/lib"), None, None, 1),
        ),
        ("/lib/libnot.so", b"not an elf at all".to_vec()),
    ]);
    for f in ["/bin/text", "/bin/empty", "/bin/magic-only", "/bin/missing"] {
        let (r, _) = resolve_in(dir.path(), f);
        assert!(
            r.libraries.is_empty() && !r.warnings.is_empty(),
            "{f}: {r:#?}"
        );
    }
    let (r, _) = resolve_in(dir.path(), "/bin/prog");
    assert_eq!(r.missing.len(), 1);
    assert!(
        r.warnings.iter().any(|w| w.contains("invalid ELF header")),
        "{r:#?}"
    );
}

#[test]
fn every_truncation_of_a_real_library_is_survived() {
    let real = std::fs::read("/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let dir = root_with(&[]);
    let lib = dir.path().join("lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib).unwrap();
    let mut len = 0;
    while len < real.len().min(64 * 1024) {
        std::fs::write(lib.join("cut.so"), &real[..len]).unwrap();
        let (r, _) = resolve_in(dir.path(), "/lib/x86_64-linux-gnu/cut.so");
        if len < 64 {
            assert!(!r.warnings.is_empty());
        }
        len += 37;
    }
}

#[test]
fn absurd_header_fields_are_refused_quickly() {
    let base = tiny_elf(&["libc.so.6"], None, None, None, 1);
    let mut cases = Vec::new();
    let mut phnum = base.clone();
    phnum[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    cases.push(phnum);
    let mut phoff = base.clone();
    phoff[32..40].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
    cases.push(phoff);
    let mut phentsize = base.clone();
    phentsize[54..56].copy_from_slice(&7u16.to_le_bytes());
    cases.push(phentsize);
    let mut dynsize = base.clone();
    // PT_DYNAMIC p_filesz (second program header) claims 2^62 bytes.
    dynsize[64 + 56 + 32..64 + 56 + 40].copy_from_slice(&(1u64 << 62).to_le_bytes());
    cases.push(dynsize);
    let mut strtab = base.clone();
    let n = strtab.len();
    // DT_STRTAB (third-to-last entry) points far outside the file.
    strtab[n - 40..n - 32].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    cases.push(strtab);
    let mut class = base.clone();
    class[4] = 9;
    cases.push(class);
    for (i, bytes) in cases.into_iter().enumerate() {
        let dir = root_with(&[("/bin/p", bytes)]);
        let (r, took) = resolve_in(dir.path(), "/bin/p");
        assert!(took < Duration::from_secs(5), "case {i} took {took:?}");
        assert!(r.libraries.len() <= 2, "case {i}: {r:#?}");
    }
}

#[test]
fn needed_cycles_and_self_runpath_terminate_with_one_entry_each() {
    let dir = root_with(&[
        (
            "/bin/p",
            tiny_elf(&["liba.so"], None, Some("/opt"), None, 1),
        ),
        (
            "/opt/liba.so",
            tiny_elf(&["libb.so"], None, Some("$ORIGIN"), Some("liba.so"), 1),
        ),
        (
            "/opt/libb.so",
            tiny_elf(
                &["liba.so", "libb.so"],
                Some("$ORIGIN:$ORIGIN/.."),
                None,
                Some("libb.so"),
                1,
            ),
        ),
        (
            "/opt/libself.so",
            tiny_elf(
                &["libself.so"],
                None,
                Some("$ORIGIN"),
                Some("libself.so"),
                1,
            ),
        ),
    ]);
    let (r, took) = resolve_in(dir.path(), "/bin/p");
    assert!(took < Duration::from_secs(5));
    let names: Vec<&str> = r.libraries.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["liba.so", "libb.so"], "{r:#?}");
    assert!(r.missing.is_empty(), "{r:#?}");
    let (r, _) = resolve_in(dir.path(), "/opt/libself.so");
    assert!(r.libraries.is_empty() && r.missing.is_empty(), "{r:#?}");
}

#[test]
fn a_million_dynamic_entries_and_huge_paths_stay_bounded() {
    let long_rpath = vec!["/x"; 500_000].join(":");
    let dir = root_with(&[
        (
            "/bin/many",
            tiny_elf(&["liba.so", "libb.so"], None, None, None, 1_000_000),
        ),
        (
            "/bin/longpath",
            tiny_elf(&["libq.so"], Some(&long_rpath), None, None, 1),
        ),
        (
            "/bin/distinct",
            tiny_elf(
                &(0..10_000)
                    .map(|i| format!("l{i}.so"))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                None,
                None,
                None,
                1,
            ),
        ),
    ]);
    let (r, took) = resolve_in(dir.path(), "/bin/many");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        r.missing.len() <= liftkit::elf::object::MAX_NEEDED,
        "{}",
        r.missing.len()
    );
    assert!(r.warnings.len() < 10, "{:?}", &r.warnings[..10]);
    assert!(
        r.warnings.iter().any(|w| w.contains("only the first")),
        "{:?}",
        r.warnings
    );
    let (r, took) = resolve_in(dir.path(), "/bin/longpath");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(r.missing.len(), 1);
    let (r, took) = resolve_in(dir.path(), "/bin/distinct");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(r.missing.len(), liftkit::elf::object::MAX_NEEDED);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("DT_NEEDED entries; rest ignored")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn corrupt_ld_so_cache_falls_back_to_ld_so_conf() {
    let mut huge_count = b"glibc-ld.so.cache1.1".to_vec();
    huge_count.extend_from_slice(&u32::MAX.to_le_bytes());
    huge_count.resize(64, 0);
    for cache in [
        b"garbage".to_vec(),
        huge_count,
        b"ld.so-1.7.0\0\xff\xff\xff\xff".to_vec(),
    ] {
        let dir = root_with(&[
            ("/etc/ld.so.cache", cache),
            ("/etc/ld.so.conf", b"/opt\n".to_vec()),
            (
                "/opt/liba.so",
                tiny_elf(&[], None, None, Some("liba.so"), 1),
            ),
            ("/bin/p", tiny_elf(&["liba.so"], None, None, None, 1)),
        ]);
        let r = Resolver::new(
            &liftkit::host::at(dir.path()),
            ResolveOptions { cpu_level: Some(1) },
        );
        assert!(
            r.warnings().iter().any(|w| w.contains("ld.so.cache")),
            "{:?}",
            r.warnings()
        );
        let res = r.resolve(Path::new("/bin/p"), &LoaderEnv::default());
        assert_eq!(res.libraries.len(), 1, "{res:#?}");
    }
}

#[test]
fn compiled_cycle_with_gcc_resolves_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("opt");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(dir.path().join("usr/lib/x86_64-linux-gnu")).unwrap();
    std::fs::write(d.join("a.c"), "int b(void); int a(void){return 1;}\n").unwrap();
    std::fs::write(d.join("b.c"), "int a(void); int b(void){return a();}\n").unwrap();
    let gcc = |args: &[&str]| {
        assert!(Command::new("gcc")
            .current_dir(&d)
            .args(args)
            .status()
            .unwrap()
            .success())
    };
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,liba.so",
        "-o",
        "liba.so",
        "a.c",
    ]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libb.so",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN",
        "-o",
        "libb.so",
        "b.c",
        "-L.",
        "-la",
    ]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,liba.so",
        "-Wl,--no-as-needed,--enable-new-dtags,-rpath,$ORIGIN",
        "-o",
        "liba.so",
        "a.c",
        "-L.",
        "-lb",
    ]);
    let (r, _) = resolve_in(dir.path(), "/opt/liba.so");
    let names: Vec<&str> = r.libraries.iter().map(|l| l.name.as_str()).collect();
    assert!(names.contains(&"libb.so"), "{r:#?}");
    assert_eq!(
        names.iter().filter(|n| **n == "liba.so").count(),
        0,
        "liba is the main object: {r:#?}"
    );
}
