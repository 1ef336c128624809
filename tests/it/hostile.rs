//! Whatever a host holds, liftkit finishes without a panic, names what it could not take, and
//! writes only relative, safe tar entries. A live nginx serves a docroot full of hostile files
//! and includes hostile config files; redis keeps hostile files in its data directory; files
//! change and vanish and processes come and go while the lift runs. The same files are then
//! lifted from a directory root (`--root`), where no link may lead out of the root; and a run
//! as `nobody` says what it could not see and still produces what it can.

use crate::common;
use crate::safety_common;

use common::*;
use safety_common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sparse files that end up in an image layer stay small: every byte of them goes through gzip
/// (slow in a debug build). The multi-GB one lives in redis's data, copied as a volume.
const IN_LAYER: u64 = 16 << 20;

fn mknod(path: &Path, kind: &str, major: u32, minor: u32) {
    let ok = Command::new("mknod")
        .arg(path)
        .args([kind, &major.to_string(), &minor.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod {}", path.display());
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// The hostile files, planted in `dir`, with a sparse file of `sparse` bytes. Returns the unix
/// socket, which lives as long as it.
fn plant(dir: &Path, sparse: u64) -> std::os::unix::net::UnixListener {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("plain.html"), "plain\n").unwrap();
    symlink("loop-b", dir.join("loop-a")).unwrap();
    symlink("loop-a", dir.join("loop-b")).unwrap();
    symlink("self", dir.join("self")).unwrap();
    symlink("/nonexistent/target", dir.join("dangling")).unwrap();
    symlink("../../../../../../../../etc/hostname", dir.join("climb")).unwrap();
    symlink("..", dir.join("parent")).unwrap();
    mkfifo(&dir.join("fifo"));
    mknod(&dir.join("zero-device"), "c", 1, 5);
    mknod(&dir.join("loop-device"), "b", 7, 0);
    let sock = std::os::unix::net::UnixListener::bind(dir.join("socket")).unwrap();
    std::fs::write(dir.join("unreadable"), "secret-ish\n").unwrap();
    set_mode(&dir.join("unreadable"), 0o000);
    std::fs::create_dir_all(dir.join("closed-dir")).unwrap();
    std::fs::write(dir.join("closed-dir/inside.html"), "inside\n").unwrap();
    set_mode(&dir.join("closed-dir"), 0o000);
    std::fs::write(
        dir.join(OsStr::from_bytes(b"latin1-caf\xe9.html")),
        "non-utf8 name\n",
    )
    .unwrap();
    std::fs::write(dir.join("new\nline.html"), "newline in the name\n").unwrap();
    std::fs::write(
        dir.join(" leading space & $(touch pwned) `x`.html"),
        "shell\n",
    )
    .unwrap();
    std::fs::write(dir.join("x".repeat(250)), "long name\n").unwrap();
    let deep: PathBuf = (0..30).map(|i| format!("level-{i:02}-directory")).collect();
    std::fs::create_dir_all(dir.join(&deep)).unwrap();
    std::fs::write(dir.join(&deep).join("deep.html"), "deep\n").unwrap();
    sparse_file(&dir.join("sparse.img"), sparse, b"head");
    std::fs::write(dir.join("changing.log"), "x".repeat(1 << 20)).unwrap();
    sock
}

/// Rewrites, grows, truncates, creates and deletes files in `dir` until stopped.
fn churn_files(dir: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut rounds = 0;
        while !stop.load(Ordering::Relaxed) {
            let size = if rounds % 2 == 0 { 1 << 20 } else { 3 };
            let _ = std::fs::write(dir.join("changing.log"), "y".repeat(size));
            let vanishing = dir.join(format!("vanishing-{}.html", rounds % 7));
            let _ = std::fs::write(&vanishing, "here for a moment\n");
            let _ = std::fs::remove_file(dir.join(format!("vanishing-{}.html", (rounds + 3) % 7)));
            rounds += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        rounds
    })
}

/// Spawns and kills short-lived processes until stopped.
fn churn_processes(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut c) = Command::new("sleep").arg("5").spawn() {
                if n % 2 == 0 {
                    std::thread::sleep(Duration::from_millis(3));
                }
                let _ = c.kill();
                let _ = c.wait();
                n += 1;
            }
        }
        n
    })
}

/// Every entry of the app's layer: (name bytes, type, link target bytes), read back with tar.
fn layer_entries(app_dir: &Path) -> Vec<(Vec<u8>, tar::EntryType, Option<Vec<u8>>)> {
    layer_archive(app_dir)
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.path_bytes().into_owned();
            let link = e.link_name_bytes().map(|l| l.into_owned());
            (name, e.header().entry_type(), link)
        })
        .collect()
}

/// Relative, without `..`, without NUL; only files, directories and links; hard links to
/// relative names inside the archive.
fn assert_safe_layer(app_dir: &Path) -> Vec<Vec<u8>> {
    let entries = layer_entries(app_dir);
    assert!(!entries.is_empty());
    for (name, kind, link) in &entries {
        let shown = String::from_utf8_lossy(name);
        assert!(!name.starts_with(b"/"), "absolute entry {shown:?}");
        assert!(
            !name.split(|&b| b == b'/').any(|c| c == b".."),
            "`..` in {shown:?}"
        );
        assert!(!name.contains(&0));
        assert!(
            matches!(
                kind,
                tar::EntryType::Regular
                    | tar::EntryType::Directory
                    | tar::EntryType::Symlink
                    | tar::EntryType::Link
            ),
            "{shown:?} is a {kind:?}"
        );
        if *kind == tar::EntryType::Link {
            let l = link.as_ref().unwrap();
            assert!(!l.starts_with(b"/") && !l.split(|&b| b == b'/').any(|c| c == b".."));
        }
    }
    entries.into_iter().map(|(n, _, _)| n).collect()
}

fn app_dir(out: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with(prefix) && p.join("oci").exists()
        })
        .unwrap_or_else(|| panic!("no {prefix} app in {}", out.display()))
}

fn no_panic(code: i32, err: &str) {
    assert!(
        code == 0 || code == 1,
        "finished (exit 0 or 1), got {code}:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_live_lift_survives_hostile_files_and_churn_and_writes_a_safe_layer() {
    let dir = public_tempdir();
    let d = dir.path();
    let www = d.join("www");
    let _sock = plant(&www, IN_LAYER);
    let nginx = start_nginx(d, free_port());
    // Hostile config, added on disk after start as an operator's later edit would be.
    let conf_d = d.join("conf.d");
    let _conf_sock = plant(&conf_d, IN_LAYER);
    std::fs::write(conf_d.join("ok.conf"), "# fine\n").unwrap();
    let conf = std::fs::read_to_string(d.join("nginx.conf")).unwrap();
    let edited = conf.replacen(
        "http {",
        &format!(
            "http {{\n  include {c}/*;\n  include {c}/fifo;\n  include {c}/zero-device;\n  include {c}/loop-a;\n",
            c = conf_d.display()
        ),
        1,
    );
    std::fs::write(d.join("nginx.conf"), edited).unwrap();
    let redis_daemon = start_redis(d, free_port());
    let _data_sock = plant(&d.join("data/odd"), 3 << 30);
    let pids = [nginx.pid(), redis_daemon.pid()];

    let stop = Arc::new(AtomicBool::new(false));
    let files = churn_files(www.clone(), stop.clone());
    let procs = churn_processes(stop.clone());
    let out = d.join("out");
    let mut cmd = liftkit();
    cmd.arg("lift");
    for p in pids {
        cmd.args(["--pid", &p.to_string()]);
    }
    cmd.arg("-o").arg(&out);
    let (code, _, err, _) = run_measured(&mut cmd);
    stop.store(true, Ordering::Relaxed);
    let (file_rounds, spawned) = (files.join().unwrap(), procs.join().unwrap());
    eprintln!("{file_rounds} file rewrites and {spawned} processes churned during the lift");
    no_panic(code, &err);
    assert!(
        spawned > 10 && file_rounds > 10,
        "the churn ran during the lift"
    );

    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    let nginx_dir = app_dir(&out, "nginx");
    let names = assert_safe_layer(&nginx_dir);
    let has = |suffix: &[u8]| names.iter().any(|n| n.ends_with(suffix));
    assert!(
        has(b"www/plain.html") && has(b"www/new\nline.html"),
        "odd but valid names are kept"
    );
    assert!(
        has(&[b"www/".as_slice(), "x".repeat(250).as_bytes()].concat()),
        "a 250-byte name"
    );
    assert!(
        has(b"-directory/deep.html"),
        "a path deeper than tar's 100-byte field"
    );
    assert!(has(b"www/sparse.img") && has(b"www/changing.log"));
    for special in ["fifo", "zero-device", "loop-device", "socket"] {
        assert!(
            !has(format!("www/{special}").as_bytes()),
            "{special} is not in the image"
        );
        assert!(
            plan.contains(&format!("www/{special}")) || err.contains(&format!("www/{special}")),
            "{special} is named in the findings"
        );
    }
    for line in ["device, FIFO or socket", "loop-a"] {
        assert!(
            plan.contains(line) || err.contains(line),
            "findings name {line:?}:\n{err}"
        );
    }
    // The hostile includes were refused, not opened (a FIFO would have hung the run).
    assert!(
        err.contains("conf.d/fifo") && err.contains("not a regular file"),
        "{err}"
    );
    assert!(err.contains("conf.d/zero-device"), "{err}");
    // The non-UTF-8 name: the plan holds names as text, so the file is named, lossily, as
    // missing rather than silently dropped.
    assert!(
        plan.contains("latin1-caf"),
        "the non-UTF-8 name is in the plan"
    );
    // The data directory's odd files: special files not copied, the sparse file still sparse.
    let redis_dir = app_dir(&out, "redis");
    assert_safe_layer(&redis_dir);
    let sparse = tree(&redis_dir.join("volumes"))
        .into_iter()
        .find(|p| p.ends_with("odd/sparse.img"))
        .expect("the sparse data file is copied");
    assert!(disk_bytes(&sparse) < 1 << 20, "and stays sparse");
    let specials = tree(&redis_dir.join("volumes"))
        .into_iter()
        .filter(|p| {
            ["fifo", "zero-device", "loop-device", "socket"]
                .iter()
                .any(|s| p.ends_with(s))
        })
        .count();
    assert_eq!(specials, 0, "no special file in the volume copy");
    assert!(!d.join("pwned").exists() && !Path::new("pwned").exists());
    set_mode(&www.join("closed-dir"), 0o755);
    set_mode(&conf_d.join("closed-dir"), 0o755);
    set_mode(&d.join("data/odd/closed-dir"), 0o755);
}

#[test]
fn a_directory_root_keeps_every_link_inside_it() {
    let dir = public_tempdir();
    let d = dir.path();
    let www = d.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "root test\n").unwrap();
    let nginx = start_nginx(d, free_port());
    let pid = nginx.pid().to_string();
    let snapshot = d.join("site/snapshot.json");
    std::fs::create_dir_all(d.join("site")).unwrap();
    run_ok(
        liftkit()
            .args(["collect", "--bundle", "--pid", &pid, "-o"])
            .arg(&snapshot),
    );
    nginx.stop();
    // The bundle is a directory root standing in for `/`: plant the hostile files in its copy
    // of the docroot, with links that would leave the root if followed on this machine.
    let root = d.join("site/snapshot.bundle");
    let inner = root.join(www.strip_prefix("/").unwrap());
    let _sock = plant(&inner, IN_LAYER);
    std::os::unix::fs::symlink("/etc/machine-id", inner.join("absolute-out")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../../../etc/machine-id",
        inner.join("climb-out"),
    )
    .unwrap();
    let plan = d.join("plan.yaml");
    let (code, _, err, _) = run_measured(
        liftkit()
            .arg("analyze")
            .arg(&snapshot)
            .args(["--pid", &pid])
            .arg("--root")
            .arg(&root)
            .arg("-o")
            .arg(&plan),
    );
    no_panic(code, &err);
    let out = d.join("out");
    let (code, _, err, _) = run_measured(
        liftkit()
            .arg("build")
            .arg(&plan)
            .arg("--root")
            .arg(&root)
            .arg("-o")
            .arg(&out),
    );
    no_panic(code, &err);
    let app = app_dir(&out, "nginx");
    let names = assert_safe_layer(&app);
    let has = |s: &[u8]| names.iter().any(|n| n.as_slice() == s);
    // /etc/machine-id exists on this machine but not in the root: the links stay links to
    // nothing, and no file of this machine is taken.
    assert!(Path::new("/etc/machine-id").exists() || Path::new("/etc/hostname").exists());
    assert!(
        !has(b"etc/machine-id"),
        "a link was followed out of the root"
    );
    let www_rel = www
        .strip_prefix("/")
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec();
    assert!(has(&[www_rel.as_slice(), b"/plain.html"].concat()));
    set_mode(&inner.join("closed-dir"), 0o755);
}

/// nginx started by `nobody` (no `user` directive: it cannot switch users), its files in `d`.
fn start_nginx_as_nobody(d: &Path, port: u16) -> Daemon {
    let conf = d.join("nobody-nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {d}/run/nginx.pid;\nerror_log {d}/run/error.log;\nevents {{}}\n\
             http {{ access_log off; client_body_temp_path {d}/run; proxy_temp_path {d}/run; \
             fastcgi_temp_path {d}/run; uwsgi_temp_path {d}/run; scgi_temp_path {d}/run; \
             server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n",
            d = d.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("run")).unwrap();
    assert!(Command::new("chown")
        .arg("nobody:nogroup")
        .arg(d.join("run"))
        .status()
        .unwrap()
        .success());
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--",
        "/usr/sbin/nginx",
        "-c",
    ])
    .arg(&conf)
    .env_clear()
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    run_ok(&mut cmd);
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "nginx as nobody did not start"
    );
    Daemon {
        pid_file: d.join("run/nginx.pid"),
    }
}

#[test]
fn a_run_as_nobody_says_what_it_could_not_see_and_still_builds() {
    let dir = public_tempdir();
    let d = dir.path();
    let www = d.join("www");
    let _sock = plant(&www, IN_LAYER);
    let mine = start_nginx_as_nobody(d, free_port());
    // A root-run daemon beside it: an unprivileged reader cannot see its executable, open files
    // or environment, and must say so.
    let root_dir = d.join("root-nginx");
    std::fs::create_dir_all(&root_dir).unwrap();
    let theirs = start_nginx(&root_dir, free_port());
    let out = d.join("nobody-out");
    std::fs::create_dir_all(&out).unwrap();
    assert!(Command::new("chown")
        .arg("nobody:nogroup")
        .arg(&out)
        .status()
        .unwrap()
        .success());
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_liftkit"))
        .args([
            "lift",
            "--pid",
            &mine.pid().to_string(),
            "--pid",
            &theirs.pid().to_string(),
            "-o",
        ])
        .arg(&out)
        .current_dir(&out);
    let (code, _, err, _) = run_measured(&mut cmd);
    no_panic(code, &err);
    assert!(
        out.join("snapshot.json").exists() && out.join("plan.yaml").exists(),
        "{err}"
    );
    assert!(
        err.contains("exe: permission denied"),
        "the root daemon's hidden parts are named:\n{err}"
    );
    assert!(err.contains("could not be read"), "{err}");
    assert_eq!(
        code, 1,
        "an app without its executable is an error-level finding"
    );
    // nobody's own nginx is built, without what nobody cannot read, which is named.
    let built: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("build.json").exists())
        .collect();
    let my_pid = format!("pid: {}\n", mine.pid());
    let my_app = built
        .iter()
        .find(|p| std::fs::read_to_string(p.join("plan.yaml")).is_ok_and(|t| t.contains(&my_pid)))
        .unwrap_or_else(|| panic!("nobody's nginx is built: {built:?}\n{err}"));
    let names = assert_safe_layer(my_app);
    assert!(names.iter().any(|n| n.ends_with(b"www/plain.html")));
    assert!(!names.iter().any(|n| n.ends_with(b"www/unreadable")));
    assert!(
        err.contains("www/unreadable"),
        "the unreadable file is named:\n{err}"
    );
    set_mode(&www.join("closed-dir"), 0o755);
}
