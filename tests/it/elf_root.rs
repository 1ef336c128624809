//! Resolution inside a fake root (`Host::at`): paths stay in the root, `$ORIGIN` works, RPATH is
//! inherited and RUNPATH is not, wrong-machine objects are skipped, ld.so.conf stands in for a
//! missing cache, glibc-hwcaps variants follow the chosen CPU level, and LD_PRELOAD goes first.

use std::path::{Path, PathBuf};
use std::process::Command;

use liftkit::elf::{LoaderEnv, Resolution, ResolveOptions, Resolver, Via};
use liftkit::host::Host;

fn gcc(args: &[&str]) {
    let status = Command::new("gcc").args(args).status().expect("gcc runs");
    assert!(status.success(), "gcc {args:?}");
}

fn copy(from: &str, root: &Path, to: &str) {
    let dest = root.join(to.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, dest).unwrap();
}

/// A root with a program using `$ORIGIN/../lib` as DT_RPATH, one using it as DT_RUNPATH,
/// libfoo → libbar inside /opt/app/lib, and libbaz only in an ld.so.conf directory.
fn build_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.join("src");
    for d in [
        "src",
        "opt/app/bin",
        "opt/app/lib",
        "opt/extra/glibc-hwcaps/x86-64-v3",
        "usr/lib/x86_64-linux-gnu",
        "etc/ld.so.conf.d",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(src.join("bar.c"), "int bar(void){return 1;}\n").unwrap();
    std::fs::write(src.join("baz.c"), "int baz(void){return 3;}\n").unwrap();
    std::fs::write(
        src.join("foo.c"),
        "int bar(void); int foo(void){return bar();}\n",
    )
    .unwrap();
    std::fs::write(
        src.join("main.c"),
        "int foo(void); int baz(void); int main(void){return foo()+baz();}\n",
    )
    .unwrap();
    let s = |f: &str| src.join(f).to_string_lossy().into_owned();
    let o = |f: &str| root.join(f).to_string_lossy().into_owned();
    let lib = o("opt/app/lib");
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libbar.so",
        "-o",
        &o("opt/app/lib/libbar.so"),
        &s("bar.c"),
    ]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libbaz.so",
        "-o",
        &o("opt/extra/libbaz.so"),
        &s("baz.c"),
    ]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libbaz.so",
        "-o",
        &o("opt/extra/glibc-hwcaps/x86-64-v3/libbaz.so"),
        &s("baz.c"),
    ]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libfoo.so",
        "-o",
        &o("opt/app/lib/libfoo.so"),
        &s("foo.c"),
        "-L",
        &lib,
        "-lbar",
    ]);
    let common = ["-L", &lib, "-L", &o("opt/extra")];
    gcc(&[
        &["-o", &o("opt/app/bin/prog"), &s("main.c")][..],
        &common,
        &[
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib",
            "-lfoo",
            "-lbaz",
        ],
    ]
    .concat());
    gcc(&[
        &["-o", &o("opt/app/bin/prog2"), &s("main.c")][..],
        &common,
        &[
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
            "-lfoo",
            "-lbaz",
        ],
    ]
    .concat());
    // A copy of libbaz for another machine earlier on the path: ld.so skips it.
    let mut wrong = std::fs::read(root.join("opt/extra/libbaz.so")).unwrap();
    wrong[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(root.join("opt/app/lib/libbaz.so"), wrong).unwrap();
    copy(
        "/lib64/ld-linux-x86-64.so.2",
        root,
        "/lib64/ld-linux-x86-64.so.2",
    );
    copy(
        "/lib/x86_64-linux-gnu/libc.so.6",
        root,
        "/lib/x86_64-linux-gnu/libc.so.6",
    );
    std::fs::write(
        root.join("etc/ld.so.conf"),
        "include /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/ld.so.conf.d/extra.conf"), "/opt/extra\n").unwrap();
    dir
}

fn resolve(root: &Path, level: u8, file: &str, env: &LoaderEnv) -> Resolution {
    let r = Resolver::new(
        &liftkit::host::at(root),
        ResolveOptions {
            cpu_level: Some(level),
        },
    );
    r.resolve(Path::new(file), env)
}

fn lib<'a>(r: &'a Resolution, name: &str) -> &'a liftkit::elf::Library {
    r.libraries
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("{name} in {r:#?}"))
}

#[test]
fn origin_rpath_is_inherited_and_stays_in_the_root() {
    let dir = build_root();
    let root = dir.path();
    let r = resolve(root, 2, "/opt/app/bin/prog", &LoaderEnv::default());
    assert!(r.missing.is_empty(), "{r:#?}");
    let foo = lib(&r, "libfoo.so");
    assert_eq!(foo.path, PathBuf::from("/opt/app/bin/../lib/libfoo.so"));
    assert_eq!(foo.via, Via::Rpath);
    let bar = lib(&r, "libbar.so");
    assert_eq!(
        bar.via,
        Via::Rpath,
        "RPATH of the program applies to libfoo's needs"
    );
    assert_eq!(
        bar.needed_by,
        PathBuf::from("/opt/app/bin/../lib/libfoo.so")
    );
    let baz = lib(&r, "libbaz.so");
    assert_eq!(baz.path, PathBuf::from("/opt/extra/libbaz.so"));
    assert_eq!(baz.via, Via::LdSoConf);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("skipped /opt/app/bin/../lib/libbaz.so")),
        "{r:#?}"
    );
    assert_eq!(
        lib(&r, "libc.so.6").path,
        PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")
    );
    assert_eq!(lib(&r, "ld-linux-x86-64.so.2").via, Via::Interpreter);
    assert!(r.hwcaps_used.is_empty());
    let host = liftkit::host::at(root);
    for l in &r.libraries {
        assert!(
            l.path.is_absolute() && !l.path.starts_with(root),
            "{}",
            l.path.display()
        );
        assert!(host.exists(&l.path), "{} inside the root", l.path.display());
    }
}

#[test]
fn runpath_serves_only_direct_needs() {
    let dir = build_root();
    let r = resolve(dir.path(), 2, "/opt/app/bin/prog2", &LoaderEnv::default());
    assert_eq!(lib(&r, "libfoo.so").via, Via::Runpath);
    assert_eq!(r.missing.len(), 1, "{r:#?}");
    assert_eq!(r.missing[0].name, "libbar.so");
    assert_eq!(
        r.missing[0].needed_by,
        PathBuf::from("/opt/app/bin/../lib/libfoo.so")
    );
    let env = LoaderEnv {
        ld_library_path: Some("/opt/app/lib".into()),
        ld_preload: None,
    };
    let r = resolve(dir.path(), 2, "/opt/app/bin/prog2", &env);
    assert!(r.missing.is_empty());
    assert_eq!(lib(&r, "libbar.so").via, Via::LdLibraryPath);
}

#[test]
fn hwcaps_variant_follows_cpu_level() {
    let dir = build_root();
    let r = resolve(dir.path(), 3, "/opt/app/bin/prog", &LoaderEnv::default());
    assert_eq!(
        lib(&r, "libbaz.so").path,
        PathBuf::from("/opt/extra/glibc-hwcaps/x86-64-v3/libbaz.so")
    );
    assert_eq!(r.hwcaps_used, vec!["x86-64-v3"]);
    let r = resolve(dir.path(), 2, "/opt/app/bin/prog", &LoaderEnv::default());
    assert_eq!(
        lib(&r, "libbaz.so").path,
        PathBuf::from("/opt/extra/libbaz.so")
    );
}

#[test]
fn preload_comes_first_and_missing_preload_is_not_fatal() {
    let dir = build_root();
    let env = LoaderEnv {
        ld_library_path: None,
        ld_preload: Some("/opt/app/lib/libbar.so nosuch.so".into()),
    };
    let r = resolve(dir.path(), 2, "/opt/app/bin/prog", &env);
    assert_eq!(r.libraries[0].via, Via::Preload);
    assert_eq!(r.libraries[0].path, PathBuf::from("/opt/app/lib/libbar.so"));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("nosuch.so") && w.contains("cannot be preloaded")));
    // libfoo's need for libbar.so is satisfied by the preloaded object (same SONAME).
    assert_eq!(
        r.libraries
            .iter()
            .filter(|l| l.name.contains("libbar"))
            .count(),
        1
    );
}

#[test]
fn dlopen_evidence_names_nss_modules_from_the_root() {
    let dir = build_root();
    let root = dir.path();
    std::fs::write(
        root.join("src/pw.c"),
        "#include <pwd.h>\nint main(void){return getpwnam(\"x\")!=0;}\n",
    )
    .unwrap();
    let exe = root.join("opt/app/bin/pw");
    gcc(&[
        "-o",
        &exe.to_string_lossy(),
        &root.join("src/pw.c").to_string_lossy(),
    ]);
    std::fs::write(root.join("etc/nsswitch.conf"), "passwd: files systemd\n").unwrap();
    copy(
        "/lib/x86_64-linux-gnu/libnss_systemd.so.2",
        root,
        "/lib/x86_64-linux-gnu/libnss_systemd.so.2",
    );
    let r = Resolver::new(
        &liftkit::host::at(root),
        ResolveOptions { cpu_level: Some(2) },
    );
    let extras = r.dlopen_evidence(Path::new("/opt/app/bin/pw"));
    assert_eq!(extras.len(), 1, "{extras:#?}");
    assert_eq!(
        extras[0].path,
        PathBuf::from("/lib/x86_64-linux-gnu/libnss_systemd.so.2")
    );
    assert!(extras[0].reason.contains("passwd"));
    let closure = r.resolve(&extras[0].path, &LoaderEnv::default());
    assert!(closure.libraries.iter().any(|l| l.name == "libc.so.6"));
}
