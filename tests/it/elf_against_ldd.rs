//! The resolver against the real loader: ~150 system files (nginx and redis-server among them
//! when installed) resolved by us and by `ldd`; every difference must fall in an explained
//! category (see `bench_deps::explain`), so a regression in search order shows up here.

use std::path::{Path, PathBuf};

use liftkit::bench::deps as bench_deps;
use liftkit::elf::{LoaderEnv, ResolveOptions, Resolver};
use rayon::prelude::*;

#[test]
fn agrees_with_ldd_on_a_sample_of_system_files() {
    if bench_deps::run_ldd(Path::new("/usr/bin/ls")) == bench_deps::Ldd::Static {
        eprintln!("ldd unusable here; skipping");
        return;
    }
    let dirs: Vec<PathBuf> = ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let mut files = bench_deps::spread(&bench_deps::elf_files(&dirs), 146);
    for extra in [
        "/usr/sbin/nginx",
        "/usr/bin/redis-server",
        "/usr/bin/ls",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ] {
        if Path::new(extra).exists() && !files.iter().any(|f| f == Path::new(extra)) {
            files.push(PathBuf::from(extra));
        }
    }
    let resolver = Resolver::new(&liftkit::host::live(), ResolveOptions::default());
    let ours: Vec<_> = files
        .par_iter()
        .map(|f| resolver.resolve(f, &LoaderEnv::default()))
        .collect();
    let ldd: Vec<_> = files.par_iter().map(|f| bench_deps::run_ldd(f)).collect();
    let c = bench_deps::compare_all(&files, &ours, &ldd);
    assert!(c.files_compared >= 100, "only {} files", c.files_compared);
    assert_eq!(c.unexplained, 0, "{:#?}", c.disagreements);
}

#[test]
fn ldd_output_is_parsed() {
    let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f)\n\tlibq.so => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
    let bench_deps::Ldd::Loaded { paths, not_found } = bench_deps::parse_ldd(out, "", true) else {
        panic!("parsed as something else");
    };
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        vec![
            "/lib/x86_64-linux-gnu/libz.so.1",
            "/lib64/ld-linux-x86-64.so.2"
        ]
    );
    assert_eq!(not_found.into_iter().collect::<Vec<_>>(), vec!["libq.so"]);
    assert_eq!(
        bench_deps::parse_ldd("\tstatically linked\n", "", true),
        bench_deps::Ldd::Static
    );
    assert_eq!(
        bench_deps::parse_ldd("", "\tnot a dynamic executable\n", false),
        bench_deps::Ldd::Static
    );
}
