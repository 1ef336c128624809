//! The whole resolver over a one-file root: the input is the program, which is also installed
//! as libc.so.6 so that its DT_NEEDED entries find something to parse.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use liftkit::elf::{LoaderEnv, ResolveOptions, Resolver};
use liftkit::host::Host;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    std::fs::write(dir.path().join("bin/p"), data).expect("write");
    std::fs::write(lib.join("libc.so.6"), data).expect("write");
    let r = Resolver::new(Host::at(dir.path()), ResolveOptions { cpu_level: Some(3) });
    let _ = r.resolve(Path::new("/bin/p"), &LoaderEnv::default());
    let _ = r.dlopen_evidence(Path::new("/bin/p"));
});
