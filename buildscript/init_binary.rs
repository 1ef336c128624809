//! Builds liftkit-init (init/) statically, so `liftkit host-image` carries its own PID 1.
//!
//! The init must be statically linked (it runs before any library is in place), but liftkit
//! itself must not be: `-C target-feature=+crt-static` is given to a nested cargo build of the
//! init package only, with its own target directory and the small `init` profile. The binary is
//! embedded with `include_bytes!` (src/hostimage/init.rs). `LIFTKIT_INIT_BINARY=PATH` uses a
//! prebuilt init instead (cross builds, packaging).

use std::path::PathBuf;
use std::process::Command;

pub fn build() {
    println!("cargo:rerun-if-changed=init/src");
    println!("cargo:rerun-if-changed=init/Cargo.toml");
    println!("cargo:rerun-if-env-changed=LIFTKIT_INIT_BINARY");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dest = out.join("liftkit-init");
    if let Some(prebuilt) = std::env::var_os("LIFTKIT_INIT_BINARY") {
        std::fs::copy(&prebuilt, &dest).expect("copy LIFTKIT_INIT_BINARY");
        return;
    }
    let target = std::env::var("TARGET").expect("TARGET");
    let target_dir = out.join("init-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .join("init/Cargo.toml");
    let status = Command::new(cargo)
        .args([
            "build",
            "--offline",
            "--profile",
            "init",
            "--target",
            &target,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        // Only the init is static; the wrappers clippy and others install are for liftkit.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .status()
        .expect("run cargo to build liftkit-init");
    assert!(status.success(), "building liftkit-init (init/) failed");
    let built = target_dir.join(&target).join("init/liftkit-init");
    std::fs::copy(&built, &dest).expect("copy liftkit-init into OUT_DIR");
}
