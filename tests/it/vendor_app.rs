//! A vendor application under /opt (RUNPATH=$ORIGIN/../lib, a dlopen'd plugin named in its
//! config, state under /var/lib) is lifted by the generic path, with no analyzer, and runs.

use crate::common;

use common::*;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The vendor's install tree and state, removed when the test ends.
struct VendorInstall {
    opt: PathBuf,
    state: PathBuf,
    child: Option<Child>,
}

impl Drop for VendorInstall {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.opt);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn gcc(args: &[&str]) {
    run_ok(Command::new("gcc").args(args));
}

fn install(vendor: &str, port: u16) -> VendorInstall {
    let opt = PathBuf::from(format!("/opt/{vendor}"));
    let state = PathBuf::from(format!("/var/lib/{vendor}"));
    let v = VendorInstall {
        opt: opt.clone(),
        state: state.clone(),
        child: None,
    };
    for d in ["bin", "lib", "plugins", "etc"] {
        std::fs::create_dir_all(opt.join(d)).unwrap();
    }
    std::fs::create_dir_all(&state).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/vendor-app");
    let s = |f: &str| src.join(f).to_string_lossy().into_owned();
    let o = |f: &str| opt.join(f).to_string_lossy().into_owned();
    liftkit::bench::testbed::vendor::compile_libraries(&src, &opt).expect("gcc");
    gcc(&[
        "-o",
        &o("bin/vendord"),
        &s("vendor.c"),
        "-L",
        &o("lib"),
        "-lvendor",
        "-ldl",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
    ]);
    std::fs::write(
        opt.join("etc/vendor.conf"),
        format!(
            "plugin = {}\nstate = {}/visits\nport = {port}\n",
            o("plugins/libgreet.so"),
            state.display()
        ),
    )
    .unwrap();
    std::fs::write(state.join("visits"), "41\n").unwrap();
    v
}

fn ask(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_vendor_app_under_opt_is_lifted_by_the_generic_path() {
    let vendor = format!("lkvendor{}", std::process::id());
    let port = free_port();
    let mut v = install(&vendor, port);
    let child = daemon_command(&format!("/opt/{vendor}/bin/vendord"))
        .arg(format!("/opt/{vendor}/etc/vendor.conf"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    v.child = Some(child);
    assert!(wait_for_port(port, Duration::from_secs(10)));
    assert_eq!(
        ask(port),
        "VendorSuite 4.2 hello from the greet plugin visit 42\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args(["lift", "--pid", &pid.to_string(), "-o"])
            .arg(&out),
    );
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(
        plan.contains("analyzer: generic"),
        "no analyzer knows it:\n{plan}"
    );
    assert!(
        plan.contains(&format!("/opt/{vendor}/plugins/libgreet.so")),
        "the dlopen'd plugin"
    );
    assert!(
        plan.contains(&format!("needed-by /opt/{vendor}/bin/vendord")),
        "RUNPATH resolution"
    );
    assert!(
        plan.contains(&format!("path: /var/lib/{vendor}\n    kind: volume")),
        "state is a volume:\n{plan}"
    );
    let app_dir = app_dir(&out);
    let paths = layer_paths(&app_dir);
    assert!(paths.contains(&format!("opt/{vendor}/lib/libvendor.so.4")));
    assert!(
        paths.contains(&format!("opt/{vendor}/etc/vendor.conf")),
        "config from the vendor tree:\n{plan}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with(&format!("var/lib/{vendor}/"))),
        "state is not baked"
    );

    let container = format!("liftkit-test-vendor-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);
    let mut original = v.child.take().unwrap();
    original.kill().unwrap();
    original.wait().unwrap();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    start_lifted_answering(&app_dir, &container, port);
    assert_eq!(
        ask(port),
        "VendorSuite 4.2 hello from the greet plugin visit 43\n",
        "the lifted app answers and carries on from the state volume"
    );
}
