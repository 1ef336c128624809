//! `scripts/collect.sh` (POSIX sh and coreutils) under dash and busybox sh writes the snapshot
//! `liftkit collect` writes at the same moment: the same host, accounts and packages, the same
//! records for the applications' processes and sockets, the same applications found, and the
//! same plans. Timing fields (`collected_at`) and processes that came or went between the two
//! scans are set aside; so are the analyzers' live facts, which only the binary asks.

use crate::common;

use common::*;
use liftkit::snapshot::Snapshot;
use std::path::Path;
use std::process::Command;

fn script() -> String {
    format!("{}/scripts/collect.sh", env!("CARGO_MANIFEST_DIR"))
}

fn collect_sh(shell: &[&str], out: &Path) -> Snapshot {
    let o = Command::new(shell[0])
        .args(&shell[1..])
        .arg(script())
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{shell:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The binary's own loader reads it: the schema is the same (unknown fields are refused).
    liftkit::snapshot::load(out).unwrap_or_else(|e| panic!("{shell:?}: {e}"))
}

fn plan_of(snapshot: &Path, pid: i32, out: &Path) -> serde_yaml_ng::Value {
    let o = liftkit()
        .arg("analyze")
        .arg(snapshot)
        .args(["--pid", &pid.to_string(), "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    v["source"]["snapshot"] = serde_yaml_ng::Value::Null;
    v
}

/// Only the test's own daemons and their children: other tests start and stop daemons of the
/// same programs while the snapshots are taken, and a second nginx renames ours (`nginx-40503`)
/// in one snapshot and not in the other; the comparison is about the script, not about them.
fn keep_ours(s: &mut Snapshot, roots: &[i32]) {
    s.processes
        .retain(|p| roots.contains(&p.pid) || roots.contains(&p.ppid));
}

fn pid_of(pid_file: &Path) -> i32 {
    std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn collect_sh_under_dash_and_busybox_writes_the_binarys_snapshot() {
    let work = public_tempdir();
    let w = work.path();
    let (ng_dir, rd_dir) = (w.join("nginx"), w.join("redis"));
    std::fs::create_dir_all(&ng_dir).unwrap();
    std::fs::create_dir_all(&rd_dir).unwrap();
    let _nginx = start_nginx(&ng_dir, free_port());
    let _redis = start_redis(&rd_dir, free_port());
    let (ng, rd) = (
        pid_of(&ng_dir.join("nginx.pid")),
        pid_of(&rd_dir.join("redis.pid")),
    );

    let bin_path = w.join("bin.json");
    run_ok(liftkit().arg("collect").arg("-o").arg(&bin_path));
    let mut bin = liftkit::snapshot::load(&bin_path).unwrap();
    // What processes used (memory, CPU time, age) is a measurement of the moment: each side's
    // is checked against the other's below, then both are compared, and planned, without it.
    let bin_usage: std::collections::BTreeMap<i32, liftkit::snapshot::Usage> =
        bin.processes.iter().map(|p| (p.pid, p.usage)).collect();
    for p in &mut bin.processes {
        p.usage = Default::default();
    }
    keep_ours(&mut bin, &[ng, rd]);
    liftkit::snapshot::save(&bin, &bin_path).unwrap();
    let analyzers = liftkit::analyze::spec::load_all(None).unwrap();
    let ours = |s: &Snapshot| -> Vec<serde_json::Value> {
        let mut c: Vec<serde_json::Value> = liftkit::analyze::candidates(s, &analyzers)
            .into_iter()
            .filter(|c| c.pids.contains(&ng) || c.pids.contains(&rd))
            .map(|c| {
                let mut v = serde_json::to_value(&c).unwrap();
                // Two instances of one program are told apart by their port (`nginx-40503`):
                // another test's nginx may run during one snapshot and not the other, which
                // says nothing about the script. The name without that suffix is compared.
                let name = v["name"].as_str().unwrap_or_default().to_string();
                let base = name
                    .rsplit_once('-')
                    .filter(|(_, port)| port.parse::<u16>().is_ok())
                    .map_or(name.as_str(), |(b, _)| b)
                    .to_string();
                v["name"] = serde_json::Value::String(base);
                v
            })
            .collect();
        c.sort_by_key(|v| v["name"].to_string());
        c
    };
    let bin_apps = ours(&bin);
    assert_eq!(bin_apps.len(), 2, "nginx and redis found: {bin_apps:?}");
    let bin_ng_plan = plan_of(&bin_path, ng, &w.join("bin-nginx.yaml"));
    // Without the live fact (redis's `INFO server`), as a script-collected snapshot is.
    let mut bin_nofacts = bin.clone();
    bin_nofacts.facts.clear();
    let nofacts_path = w.join("bin-nofacts.json");
    liftkit::snapshot::save(&bin_nofacts, &nofacts_path).unwrap();
    let bin_rd_plan = plan_of(&nofacts_path, rd, &w.join("bin-redis.yaml"));

    for (name, shell) in [("dash", vec!["dash"]), ("busybox", vec!["busybox", "sh"])] {
        let path = w.join(format!("{name}.json"));
        let mut sh = collect_sh(&shell, &path);
        // The script records usage as the binary does: the same resident memory give or take
        // what the daemons touched in between, CPU time and age counted in the same clock.
        for pid in [ng, rd] {
            let (a, b) = (bin_usage[&pid], sh.process(pid).unwrap().usage);
            assert!(b.rss_kib > 0 && b.age_ms > 0, "{name}: pid {pid}: {b:?}");
            assert!(
                b.rss_kib.abs_diff(a.rss_kib) <= a.rss_kib / 4,
                "{name}: pid {pid}: RSS {b:?} against the binary's {a:?}"
            );
            assert!(
                b.cpu_ms >= a.cpu_ms && b.cpu_ms <= a.cpu_ms + 5_000,
                "{name}: {b:?} {a:?}"
            );
            assert!(
                b.age_ms >= a.age_ms && b.age_ms <= a.age_ms + 120_000,
                "{name}: {b:?} {a:?}"
            );
            assert_eq!(
                b.pss_kib > 0,
                a.pss_kib > 0,
                "{name}: PSS read where the binary reads it"
            );
        }
        let sized_path = w.join(format!("{name}-usage.json"));
        liftkit::snapshot::save(&sh, &sized_path).unwrap();
        let sized = plan_of(&sized_path, ng, &w.join(format!("{name}-nginx-sized.yaml")));
        let resources = &sized["apps"][0]["deploy"]["resources"];
        assert!(
            resources["memory_request"]
                .as_str()
                .is_some_and(|m| m.ends_with("Mi")),
            "{name}: a script-collected nginx is sized from its usage: {resources:?}"
        );
        for p in &mut sh.processes {
            p.usage = Default::default();
        }
        keep_ours(&mut sh, &[ng, rd]);
        liftkit::snapshot::save(&sh, &path).unwrap();
        assert_eq!(sh.schema, bin.schema);
        assert_eq!(sh.host, bin.host, "{name}: host");
        assert_eq!(sh.users, bin.users, "{name}: users");
        assert_eq!(sh.groups, bin.groups, "{name}: groups");
        assert_eq!(sh.packages, bin.packages, "{name}: packages");
        // The machine's memory and disks; bytes used move while other programs write.
        let sized = |s: &Snapshot| {
            let c = s.capacity.clone().expect("capacity recorded");
            // Loop devices come and go with other tests' disk images.
            let disks: Vec<_> = c
                .filesystems
                .iter()
                .filter(|f| !f.device.starts_with("/dev/loop"))
                .map(|f| (f.device.clone(), f.mount.clone(), f.size_bytes))
                .collect();
            (c.memory_kib, disks)
        };
        assert_eq!(sized(&sh), sized(&bin), "{name}: capacity");
        assert!(sh.collected_at.ends_with('Z'));
        for pid in [ng, rd] {
            let group: Vec<i32> = bin
                .processes
                .iter()
                .filter(|p| p.pid == pid || p.ppid == pid)
                .map(|p| p.pid)
                .collect();
            for p in group {
                assert_eq!(sh.process(p), bin.process(p), "{name}: pid {p}");
            }
        }
        let held = |s: &Snapshot| -> Vec<liftkit::snapshot::Socket> {
            s.sockets
                .iter()
                .filter(|x| x.pids.contains(&ng) || x.pids.contains(&rd))
                .cloned()
                .collect()
        };
        assert_eq!(held(&sh), held(&bin), "{name}: sockets");
        assert_eq!(ours(&sh), bin_apps, "{name}: the same applications");
        assert_eq!(
            plan_of(&path, ng, &w.join(format!("{name}-nginx.yaml"))),
            bin_ng_plan,
            "{name}: nginx's plan"
        );
        assert_eq!(
            plan_of(&path, rd, &w.join(format!("{name}-redis.yaml"))),
            bin_rd_plan,
            "{name}: redis's plan"
        );
    }
}

#[test]
fn collect_sh_bundle_carries_what_the_processes_show() {
    let work = public_tempdir();
    let w = work.path();
    let ng_dir = w.join("nginx");
    std::fs::create_dir_all(&ng_dir).unwrap();
    let _nginx = start_nginx(&ng_dir, free_port());
    let ng = pid_of(&ng_dir.join("nginx.pid"));
    let snap = w.join("site/snap.json");
    let o = Command::new("dash")
        .arg(script())
        .args(["--bundle", "-o"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bundle = w.join("site/snap.bundle");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        liftkit::snapshot::load(&snap).unwrap().bundle.as_deref(),
        Some("snap.bundle")
    );
    let plan = plan_of(&snap, ng, &w.join("plan.yaml"));
    assert!(
        plan["source"]["root"]
            .as_str()
            .unwrap()
            .ends_with("snap.bundle"),
        "analyzed from the bundle"
    );
    let files = serde_yaml_ng::to_string(&plan["apps"][0]["files"]).unwrap();
    // The page is named only by nginx.conf's `root`: the script follows the configuration.
    for f in [
        "/usr/sbin/nginx",
        &format!("{}/nginx.conf", ng_dir.display()),
        "/etc/nginx/mime.types",
        &format!("{}/www/index.html", ng_dir.display()),
    ] {
        assert!(files.contains(&format!("path: {f}\n")), "{f} in {files}");
    }
    // So an image built on another machine from the script's bundle holds what the binary's
    // bundle gives: the same files, modes and contents.
    let bin_snap = w.join("bin/snap.json");
    run_ok(liftkit().args(["collect", "--bundle", "-o"]).arg(&bin_snap));
    let bin_plan = plan_of(&bin_snap, ng, &w.join("bin-plan.yaml"));
    // Compared as the files they are on this host: a library may be planned by its /lib or its
    // /usr/lib path, as the loader cache names it and as each bundle lays out the merged /usr.
    let real = |p: &str| -> String {
        std::fs::canonicalize(p).map_or(p.to_string(), |r| r.to_string_lossy().into_owned())
    };
    let paths = |p: &serde_yaml_ng::Value| -> std::collections::BTreeSet<String> {
        p["apps"][0]["files"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|f| f["path"].as_str().map(real))
            .collect()
    };
    assert_eq!(paths(&plan), paths(&bin_plan), "the same files planned");
    let layer_of = |plan: &Path, out: &Path| -> std::collections::BTreeSet<String> {
        run_ok(
            liftkit()
                .arg("build")
                .arg(plan)
                .arg("-o")
                .arg(out)
                .env("SOURCE_DATE_EPOCH", "1700000000"),
        );
        // The host's files the image holds (directories, the generated package records and
        // the SBOM named after each plan's app name aside).
        layer_paths(&app_dir(out))
            .iter()
            .map(|p| real(&format!("/{p}")))
            .filter(|p| Path::new(p).is_file())
            .collect()
    };
    assert_eq!(
        layer_of(&w.join("plan.yaml"), &w.join("out-sh")),
        layer_of(&w.join("bin-plan.yaml"), &w.join("out-bin")),
        "the same files in the image"
    );
}

#[test]
fn collect_sh_is_posix_sh_and_refuses_bad_options() {
    let o = Command::new("dash")
        .arg(script())
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown option: --frobnicate"));
    let help = Command::new("busybox")
        .args(["sh"])
        .arg(script())
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: collect.sh"));
    // `dash -n` parses without running; checkbashisms is not installed, but dash and busybox
    // running the whole script (above) are the real check.
    assert!(Command::new("dash")
        .arg("-n")
        .arg(script())
        .status()
        .unwrap()
        .success());
}
