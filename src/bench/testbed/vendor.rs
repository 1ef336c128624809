//! A vendor daemon under /opt started by its wrapper script, which exports LD_LIBRARY_PATH and a
//! plugin directory (causes 4 and 8); the daemon reads its config by a path compiled into the
//! binary (cause 3), names a plugin relative to that directory, and keeps state under /var/lib.
//! Built here with gcc from the sources in samples/vendor-app (embedded).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SERVICE: Service = Service::corpus(
    "vendor",
    ("/usr/bin/gcc", "gcc"),
    "3 (config by a compiled-in path), 4 (wrapper script), 8 (exported environment)",
    start,
);

const VENDOR_C: &str = include_str!("../../../samples/vendor-app/vendor.c");
const LIBVENDOR_C: &str = include_str!("../../../samples/vendor-app/libvendor.c");
const PLUGIN_C: &str = include_str!("../../../samples/vendor-app/plugin.c");

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let vendor = format!("lkcorpus{port}");
    let opt = PathBuf::from(format!("/opt/{vendor}"));
    let etc = PathBuf::from(format!("/etc/{vendor}"));
    let state = PathBuf::from(format!("/var/lib/{vendor}"));
    let src = dir.join("src");
    write(&src.join("vendor.c"), VENDOR_C)?;
    write(&src.join("libvendor.c"), LIBVENDOR_C)?;
    write(&src.join("plugin.c"), PLUGIN_C)?;
    for d in ["lib", "plugins", "sbin", "bin"] {
        std::fs::create_dir_all(opt.join(d)).map_err(super::io(&opt))?;
    }
    std::fs::create_dir_all(&state).map_err(super::io(&state))?;
    compile_libraries(&src, &opt)?;
    let s = |f: &str| src.join(f).to_string_lossy().into_owned();
    let o = |f: &str| opt.join(f).to_string_lossy().into_owned();
    let conf_define = format!("-DVENDOR_CONF=\"{}/vendor.conf\"", etc.display());
    // No RUNPATH: the wrapper's LD_LIBRARY_PATH is how it finds its library.
    gcc(&[
        "-o",
        &o("sbin/vendord"),
        &conf_define,
        &s("vendor.c"),
        "-L",
        &o("lib"),
        "-lvendor",
        "-ldl",
    ])?;
    write(
        &etc.join("vendor.conf"),
        &format!(
            "plugin = libgreet.so\nstate = {}/visits\nport = {port}\n",
            state.display()
        ),
    )?;
    write(&state.join("visits"), "41\n")?;
    let wrapper = opt.join("bin/vendorctl");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\n# The vendor's start script.\nVENDOR_HOME={o}\nexport LD_LIBRARY_PATH=$VENDOR_HOME/lib\n\
             export VENDOR_PLUGIN_DIR=$VENDOR_HOME/plugins\nexec $VENDOR_HOME/sbin/vendord\n",
            o = opt.display()
        ),
    )?;
    super::set_mode(&wrapper, 0o755)?;
    let mut pending = Running::new("vendor", 0, port, probe);
    pending.installed = vec![opt, etc, state];
    super::spawn_background(
        "vendor",
        &mut daemon_command(&wrapper.to_string_lossy()),
        &dir.join("vendor.log"),
    )?;
    let mut started = super::started("vendor", port, probe, &dir.join("vendor.log"))?;
    started.installed = std::mem::take(&mut pending.installed);
    Ok(started)
}

/// The vendor's library (`lib/libvendor.so.4` with its `libvendor.so` link) and its plugin
/// (`plugins/libgreet.so`), compiled from the sources in `src` into `opt` (its `lib/` and
/// `plugins/` made first).
pub fn compile_libraries(src: &Path, opt: &Path) -> Result<(), TestbedError> {
    let s = |f: &str| src.join(f).to_string_lossy().into_owned();
    let o = |f: &str| opt.join(f).to_string_lossy().into_owned();
    for d in ["lib", "plugins"] {
        std::fs::create_dir_all(opt.join(d)).map_err(super::io(opt))?;
    }
    gcc(&[
        "-shared",
        "-fPIC",
        "-o",
        &o("lib/libvendor.so.4"),
        "-Wl,-soname,libvendor.so.4",
        &s("libvendor.c"),
    ])?;
    let link = opt.join("lib/libvendor.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("libvendor.so.4", &link).map_err(super::io(&link))?;
    gcc(&[
        "-shared",
        "-fPIC",
        "-o",
        &o("plugins/libgreet.so"),
        &s("plugin.c"),
    ])
}

fn gcc(args: &[&str]) -> Result<(), TestbedError> {
    let out = Command::new("gcc")
        .args(args)
        .output()
        .map_err(super::io(Path::new("gcc")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TestbedError::Start {
            service: "vendor".into(),
            what: format!("gcc {args:?}: {}", String::from_utf8_lossy(&out.stderr)),
        })
    }
}

/// The banner, plugin greeting and that the visit counter goes on from the state (its value
/// moves on with every visit, so the probe says whether it carried on, not the number).
fn probe(port: u16) -> Result<String, String> {
    let a = super::exchange(port, b"", None)?;
    let text = String::from_utf8_lossy(&a).trim().to_string();
    let (head, count) = text.rsplit_once(' ').ok_or("no visit count")?;
    let n: u64 = count.parse().map_err(|_| format!("not a count: {text}"))?;
    Ok(format!(
        "{head} {}",
        if n > 41 {
            "carried on from its state"
        } else {
            "lost its state"
        }
    ))
}
