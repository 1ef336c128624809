//! A powered-off VM's disk as the host: a Debian root holding nginx from this machine's own
//! packages, an enabled unit and its config, made into ext4 (GPT) and xfs (MBR) disk images,
//! converted to qcow2 and vmdk; `lift --disk` of each gives an image that serves the site, and the
//! image file is byte-identical afterwards. Then the disks liftkit must refuse, each in one line.

use crate::common;

use common::*;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sh(script: &str) -> String {
    let out = Command::new("sh").arg("-ec").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(path: &Path) -> String {
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut h).unwrap();
    hex::encode(h.finalize())
}

/// A Debian root with nginx-light installed from this host's packages (their files as dpkg
/// lists them, their status stanzas), nginx's unit enabled and a site of its own on `port`.
fn debian_root(root: &Path, port: u16) {
    let libs = sh("ldd /usr/sbin/nginx | awk '/=>/ {print $3} /ld-linux/ {print $1}'");
    // Debian 12's nginx-light is a metapackage: the binary is in `nginx`.
    let mut pkgs: Vec<String> = vec![
        "nginx-light".into(),
        "nginx-common".into(),
        "base-files".into(),
    ];
    pkgs.push(
        sh("dpkg -S /usr/sbin/nginx")
            .split(':')
            .next()
            .unwrap()
            .trim()
            .to_string(),
    );
    for lib in libs.lines().filter(|l| l.starts_with('/')) {
        let real = sh(&format!("readlink -f {lib}"));
        for cand in [
            lib.to_string(),
            real.trim().to_string(),
            real.trim().trim_start_matches("/usr").to_string(),
        ] {
            if let Ok(o) = Command::new("dpkg").args(["-S", &cand]).output() {
                if o.status.success() {
                    let p = String::from_utf8_lossy(&o.stdout);
                    pkgs.push(p.split(':').next().unwrap().trim().to_string());
                    break;
                }
            }
        }
    }
    pkgs.sort();
    pkgs.dedup();
    let r = root.display();
    sh(&format!("mkdir -p {r}/usr/bin {r}/usr/sbin {r}/usr/lib {r}/usr/lib64 && cd {r} && ln -s usr/bin bin && ln -s usr/sbin sbin && ln -s usr/lib lib && ln -s usr/lib64 lib64"));
    let mut status = String::new();
    for p in &pkgs {
        sh(&format!(
            "dpkg -L {p} | while read -r f; do if [ -d \"$f\" ] && [ ! -L \"$f\" ]; then mkdir -p \"{r}$f\"; elif [ -e \"$f\" ] || [ -L \"$f\" ]; then cp -a --parents \"$f\" {r}/; fi; done"
        ));
        status.push_str(&sh(&format!("dpkg-query -s {p}")));
        status.push('\n');
        sh(&format!(
            "mkdir -p {r}/var/lib/dpkg/info && dpkg -L {p} > {r}/var/lib/dpkg/info/{p}.list"
        ));
    }
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    std::fs::write(root.join("etc/hostname"), "oldweb\n").unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nwww-data:x:33:\n").unwrap();
    std::fs::create_dir_all(root.join("var/www/html")).unwrap();
    std::fs::create_dir_all(root.join("var/log/nginx")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/nginx")).unwrap();
    std::fs::write(
        root.join("var/www/html/index.html"),
        "<h1>served from a powered-off disk</h1>\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/nginx/nginx.conf"),
        format!("user www-data;\nworker_processes 1;\npid /run/nginx.pid;\nerror_log /var/log/nginx/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  include /etc/nginx/mime.types;\n  access_log /var/log/nginx/access.log;\n  server {{\n    listen 127.0.0.1:{port};\n    root /var/www/html;\n  }}\n}}\n"),
    )
    .unwrap();
    sh(&format!("mkdir -p {r}/etc/systemd/system/multi-user.target.wants && ln -sf /lib/systemd/system/nginx.service {r}/etc/systemd/system/multi-user.target.wants/nginx.service"));
    assert!(
        root.join("lib/systemd/system/nginx.service").exists(),
        "nginx-common ships the unit"
    );
}

/// A GPT disk with one ext4 partition made from `root` by `mkfs.ext4 -d` (no mount needed).
fn ext4_gpt_disk(root: &Path, disk: &Path) {
    let d = disk.display();
    sh(&format!("truncate -s 400M {d} && printf 'label: gpt\\nstart=2048, size=780000, type=linux\\n' | sfdisk -q {d}"));
    sh(&format!(
        "mkfs.ext4 -q -F -d {} -E offset=1048576 {d} 390000k",
        root.display()
    ));
}

/// An MBR disk with one xfs partition, populated by `mkfs.xfs -p` from a protofile listing `root`.
fn xfs_mbr_disk(root: &Path, disk: &Path, work: &Path) {
    let d = disk.display();
    let part = work.join("xfs.part");
    let p = part.display();
    sh(&format!("truncate -s 400M {p}"));
    // mkfs.xfs populates from a protofile; xfsprogs 6.x has no -d directory option.
    let proto = work.join("proto");
    std::fs::write(&proto, protofile(root)).unwrap();
    sh(&format!("mkfs.xfs -q -f -p {} {p}", proto.display()));
    sh(&format!("truncate -s 402M {d} && printf 'label: dos\\nstart=2048, size=819200, type=83\\n' | sfdisk -q {d} && dd if={p} of={d} bs=1M seek=1 conv=notrunc,sparse status=none"));
}

/// mkfs.xfs's prototype file: the tree with modes and owners (links and regular files only).
fn protofile(root: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &Path, depth: usize, out: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let m = e.path().symlink_metadata().unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(char::is_whitespace) {
                continue;
            }
            let pad = " ".repeat(depth);
            let mode = m.mode() & 0o7777;
            let (uid, gid) = (m.uid(), m.gid());
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                out.push_str(&format!(
                    "{pad}{name} l--{:03o} {uid} {gid} {}\n",
                    mode & 0o777,
                    t.display()
                ));
            } else if m.is_dir() {
                out.push_str(&format!(
                    "{pad}{name} d--{:03o} {uid} {gid}\n",
                    mode & 0o777
                ));
                walk(&e.path(), depth + 1, out);
                out.push_str(&format!("{pad}$\n"));
            } else if m.is_file() {
                let suid = if mode & 0o4000 != 0 { 'u' } else { '-' };
                let sgid = if mode & 0o2000 != 0 { 'g' } else { '-' };
                out.push_str(&format!(
                    "{pad}{name} -{suid}{sgid}{:03o} {uid} {gid} {}\n",
                    mode & 0o777,
                    e.path().display()
                ));
            }
        }
    }
    let mut out = String::from("/dev/null\n0 0\nd--755 0 0\n");
    walk(root, 1, &mut out);
    out.push_str("$\n");
    out
}

fn lift_disk_and_probe(disk: &Path, out: &Path, port: u16, name: &str) {
    let before = sha256(disk);
    let o = run_ok(
        liftkit()
            .args(["lift", "--disk"])
            .arg(disk)
            .args(["--app", "nginx", "-o"])
            .arg(out),
    );
    // Nothing of the disk's runs here: the trial says the image answered, and that there was
    // no original to compare it with (not "did not answer", not "as the original").
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("trial nginx: ")
            && l.ends_with("answered (no original here to compare with)")),
        "{err}\n{}",
        std::fs::read_to_string(app_dir(out).join("trial.json")).unwrap_or_default()
    );
    assert_eq!(
        sha256(disk),
        before,
        "{}: the disk image changed",
        disk.display()
    );
    let app = app_dir(out);
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    assert!(
        plan.contains("root: disk:"),
        "the plan names the disk it came from"
    );
    let snap = std::fs::read_to_string(out.join("snapshot.json")).unwrap();
    assert!(
        snap.contains("systemd unit nginx.service enabled"),
        "declared, with where: {snap}"
    );
    let _cleanup = Cleanup {
        container: name.into(),
        image: format!("localhost/liftkit/{name}"),
    };
    assert!(
        wait_for_port_closed(port, Duration::from_secs(5)),
        "nothing else on the port"
    );
    start_lifted_answering(&app, name, port);
    let (status, body) = http_get(port, "/");
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "<h1>served from a powered-off disk</h1>\n"
    );
    let _ = podman().args(["rm", "-f", "-t", "2", name]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
}

/// What a client sees of `GET /`: the status line, the headers that describe the content and
/// the server (not the dates and ETag, which follow each file's mtime), and the body.
fn answer(port: u16) -> (String, Vec<String>, String) {
    let o = run_ok(
        Command::new("curl")
            .args(["-s", "-D", "-", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{port}/")),
    );
    let text = String::from_utf8_lossy(&o.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let mut headers: Vec<String> = lines
        .filter(|l| {
            let name = l.split(':').next().unwrap_or_default().to_ascii_lowercase();
            ["server", "content-type", "content-length", "accept-ranges"].contains(&name.as_str())
        })
        .map(str::to_string)
        .collect();
    headers.sort();
    (status, headers, body.to_string())
}

#[test]
fn debian_disk_in_raw_qcow2_and_vmdk_lifts_to_a_serving_image_and_stays_unchanged() {
    let work = public_tempdir();
    let port = free_port();
    let root = work.path().join("root");
    debian_root(&root, port);
    let raw = work.path().join("web.raw");
    ext4_gpt_disk(&root, &raw);
    for fmt in ["qcow2", "vmdk"] {
        sh(&format!(
            "qemu-img convert -f raw -O {fmt} {} {}",
            raw.display(),
            work.path().join(format!("web.{fmt}")).display()
        ));
    }
    // What the disk says would run, before lifting.
    let list = run_ok(liftkit().args(["lift", "--disk"]).arg(&raw));
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("nginx ") && l.contains("nginx.service")),
        "{list}"
    );
    for fmt in ["raw", "qcow2", "vmdk"] {
        let disk = work.path().join(format!("web.{fmt}"));
        lift_disk_and_probe(
            &disk,
            &work.path().join(format!("out-{fmt}")),
            port,
            &format!("lk-disk-{fmt}-{port}"),
        );
    }
    // Side by side with a live lift of the same app: this host's nginx (whose files the disk's
    // were copied from) running the disk's configuration with the same page, lifted by pid.
    // Both images answer as that live original does, to the headers a client sees.
    let live = work.path().join("live");
    std::fs::create_dir_all(live.join("www")).unwrap();
    std::fs::copy(
        root.join("var/www/html/index.html"),
        live.join("www/index.html"),
    )
    .unwrap();
    let nginx = start_nginx(&live, port);
    let original = answer(port);
    run_ok(
        liftkit()
            .args(["lift", "--pid"])
            .arg(nginx.pid().to_string())
            .arg("-o")
            .arg(work.path().join("out-live")),
    );
    drop(nginx);
    assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    for (out, name) in [("out-live", "lk-live"), ("out-raw", "lk-disk-again")] {
        let name = format!("{name}-{port}");
        let app = app_dir(&work.path().join(out));
        let _cleanup = cleanup_of(&app, &name);
        start_lifted(&app, &name);
        assert!(
            wait_for_port(port, Duration::from_secs(30)),
            "{out}: {}",
            container_logs(&name)
        );
        assert_eq!(answer(port), original, "{out} answers as the live original");
        let _ = podman().args(["rm", "-f", "-t", "2", &name]).output();
        assert!(wait_for_port_closed(port, Duration::from_secs(10)));
    }
    // The program and its libraries are in both images. The live one also holds the name
    // service modules this host's nsswitch.conf names (the live nginx mapped them when it looked
    // up www-data) and what they need; the disk has no nsswitch.conf, so glibc's defaults need
    // none. Where the configuration and the page sit differs by construction.
    let program = |out: &str| -> std::collections::BTreeSet<String> {
        layer_paths(&app_dir(&work.path().join(out)))
            .into_iter()
            .filter(|p| p.starts_with("usr/sbin/") || p.starts_with("usr/lib/x86_64-linux-gnu/"))
            .collect()
    };
    let (disk, live) = (program("out-raw"), program("out-live"));
    assert!(disk.is_subset(&live), "{:?}", disk.difference(&live));
    let live_plan: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(work.path().join("out-live/plan.yaml")).unwrap(),
    )
    .unwrap();
    // A file's reasons, by file name (the plan names the path the process mapped, /lib or
    // /usr/lib; the layer keeps one of them).
    let why = |path: &str| -> String {
        let name = Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        live_plan["apps"][0]["files"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|f| {
                f["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/{name}")))
            })
            .flat_map(|f| f["why"].as_sequence().cloned().unwrap_or_default())
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect::<Vec<_>>()
            .join("; ")
    };
    // Each extra is a file the disk does not hold (its root was copied from nginx's packages
    // only), a module nsswitch.conf names, a library one needs, or what the running workers
    // mapped once they had loaded one (only a live process shows that).
    let extras: Vec<&String> = live.difference(&disk).collect();
    for extra in &extras {
        let why = why(extra);
        let on_disk = std::fs::symlink_metadata(root.join(extra)).is_ok();
        assert!(
            !on_disk
                || why.contains("NSS module")
                || why.contains("libnss_")
                || why.contains("mapped by pid"),
            "{extra} is on the disk, only in the live lift, and not for a name service module: \
             {why:?}"
        );
    }
    assert!(
        extras.is_empty() || extras.iter().any(|e| why(e).contains("NSS module")),
        "the live lift's extras come with a name service module: {extras:?}"
    );

    // The plan names its disk: `build` opens it again and gives the same image, and the three
    // formats of one disk give one image.
    let layer = |out: &Path| -> String {
        let b: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(app_dir(out).join("build.json")).unwrap(),
        )
        .unwrap();
        b["layer_digest"].as_str().unwrap().to_string()
    };
    let before = sha256(&raw);
    let rebuilt = work.path().join("rebuilt");
    run_ok(
        liftkit()
            .arg("build")
            .arg(work.path().join("out-raw/plan.yaml"))
            .arg("-o")
            .arg(&rebuilt),
    );
    assert_eq!(sha256(&raw), before);
    assert_eq!(
        layer(&rebuilt),
        layer(&work.path().join("out-raw")),
        "build from the plan = lift"
    );
    assert_eq!(
        layer(&work.path().join("out-qcow2")),
        layer(&work.path().join("out-raw"))
    );
    assert_eq!(
        layer(&work.path().join("out-vmdk")),
        layer(&work.path().join("out-raw"))
    );
    // Nothing of the mounts is left on this machine.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("liftkit-disk"), "{mounts}");
}

#[test]
fn xfs_disk_with_mbr_collects_its_declared_nginx() {
    let work = public_tempdir();
    let root = work.path().join("root");
    debian_root(&root, free_port());
    let disk = work.path().join("web-xfs.raw");
    xfs_mbr_disk(&root, &disk, work.path());
    let before = sha256(&disk);
    let snap_path = work.path().join("snap.json");
    run_ok(
        liftkit()
            .args(["collect", "--disk"])
            .arg(&disk)
            .arg("-o")
            .arg(&snap_path),
    );
    assert_eq!(sha256(&disk), before);
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap_path).unwrap()).unwrap();
    assert_eq!(snap["host"]["hostname"], "oldweb");
    let nginx = snap["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unit"] == "nginx.service")
        .expect("declared nginx");
    assert_eq!(nginx["exe"], "/usr/sbin/nginx");
    assert!(nginx["declared"]
        .as_str()
        .unwrap()
        .contains("multi-user.target.wants"));
    assert!(snap["packages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "nginx-light"));
    // Analyzed elsewhere: the snapshot never passes for this machine's.
    let plan = work.path().join("plan.yaml");
    let o = liftkit()
        .args(["analyze"])
        .arg(&snap_path)
        .arg("-o")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan_text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        !plan_text.contains("root: /\n"),
        "not analyzed against this machine's files"
    );
    assert!(
        plan_text.contains(&format!("root: disk:{}", disk.display())),
        "but against the disk, opened again: {plan_text}"
    );
    assert!(plan_text.contains("path: /usr/sbin/nginx"), "{plan_text}");
    assert_eq!(sha256(&disk), before);
}

/// One line on stderr naming the file and what was found; exit 2; no output left behind.
fn refused(disk: &Path, extra: &[&str], expect: &[&str]) {
    let out_dir = disk.with_extension("out");
    let o = liftkit()
        .args(["lift", "--disk"])
        .arg(disk)
        .args(["--app", "nginx", "-o"])
        .arg(&out_dir)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}: {err}", disk.display());
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("liftkit: error"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&disk.display().to_string()),
        "names the file: {err}"
    );
    for e in expect {
        assert!(lines[0].contains(e), "{e:?} in {err}");
    }
    assert!(!out_dir.exists(), "nothing written for a refused disk");
}

#[test]
fn bad_disks_are_refused_in_one_line() {
    let work = public_tempdir();
    let w = work.path();
    let d = |n: &str| w.join(n);
    // Encrypted: a real LUKS2 header made by cryptsetup (cheap key derivation).
    sh(&format!("truncate -s 32M {0} && echo -n pw | cryptsetup -q luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - {0}", d("luks.img").display()));
    refused(&d("luks.img"), &[], &["LUKS"]);
    // LVM without the tools liftkit would need: a real physical volume in a GPT partition.
    let lvm = d("lvm.img");
    sh(&format!(
        "truncate -s 64M {0} && printf 'label: gpt\\nstart=2048, type=lvm\\n' | sfdisk -q {0}",
        lvm.display()
    ));
    let lo = sh(&format!(
        "losetup --find --show --offset 1048576 {}",
        lvm.display()
    ));
    let pv = Command::new("pvcreate")
        .args(["-qq", "--zero", "y", lo.trim()])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    sh(&format!("losetup -d {}", lo.trim()));
    assert!(
        pv.status.success(),
        "pvcreate: {}",
        String::from_utf8_lossy(&pv.stderr)
    );
    refused(&lvm, &[], &["partition 1", "LVM2"]);
    // A file system liftkit does not read: swap space only.
    let swap = d("swap.img");
    sh(&format!("truncate -s 64M {0} && printf 'label: dos\\nstart=2048, type=82\\n' | sfdisk -q {0} && truncate -s 63M {1} && mkswap -q {1} && dd if={1} of={0} bs=1M seek=1 conv=notrunc status=none", swap.display(), d("swap.part").display()));
    refused(&swap, &[], &["partition 1", "swap"]);
    // Truncated: a partition table promising more than the file holds.
    let cut = d("cut.img");
    sh(&format!("truncate -s 64M {0} && printf 'label: gpt\\nstart=2048, type=linux\\n' | sfdisk -q {0} && truncate -s 20M {0}", cut.display()));
    refused(&cut, &[], &["partition table", "truncated"]);
    // Corrupt: no table, no file system.
    let junk = d("junk.img");
    sh(&format!("head -c 8M /dev/urandom > {}", junk.display()));
    refused(&junk, &[], &["whole disk"]);
    // A corrupt ext4 (superblock signature, garbage behind it): the kernel's refusal, named.
    let bad_ext = d("badext.img");
    sh(&format!("truncate -s 64M {0} && mkfs.ext4 -q -F {0} && dd if=/dev/urandom of={0} bs=1k seek=2 count=4000 conv=notrunc status=none", bad_ext.display()));
    refused(&bad_ext, &[], &["whole disk", "mount"]);
}

#[test]
fn a_disk_a_running_vm_holds_is_refused_unless_forced() {
    let work = public_tempdir();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let raw = work.path().join("vm.raw");
    sh(&format!(
        "truncate -s 64M {0} && mkfs.ext4 -q -F -d {1} {0}",
        raw.display(),
        root.display()
    ));
    let qcow = work.path().join("vm.qcow2");
    sh(&format!(
        "qemu-img convert -O qcow2 {} {}",
        raw.display(),
        qcow.display()
    ));
    // QEMU itself holds the image as a running VM's disk does (writable, locked).
    let mut vm = Command::new("qemu-storage-daemon")
        .args([
            "--blockdev",
            &format!("driver=file,node-name=f,filename={}", qcow.display()),
            "--blockdev",
            "driver=qcow2,node-name=q,file=f",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    refused(&qcow, &[], &["refused", "lock", "--force"]);
    let snap = work.path().join("forced.json");
    let o = liftkit()
        .args(["collect", "--force", "--disk"])
        .arg(&qcow)
        .arg("-o")
        .arg(&snap)
        .output()
        .unwrap();
    let _ = vm.kill();
    let _ = vm.wait();
    assert!(
        o.status.success(),
        "--force reads it: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A process holding the raw image open for writing (any hypervisor).
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3<>{}; sleep 30", raw.display()))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    refused(&raw, &[], &["open for writing", "--force"]);
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn other_partitions_are_mounted_where_the_disks_fstab_says_and_cron_reboot_declares() {
    let work = public_tempdir();
    let w = work.path();
    let (root, srv) = (w.join("root"), w.join("srv"));
    let uuid = "5e1f0c2a-7b1d-4c8e-9a55-0123456789ab";
    for d in ["etc", "var/spool/cron/crontabs", "srv"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/srv/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    std::fs::write(
        root.join("etc/fstab"),
        format!("# the data disk\nUUID={uuid} /srv ext4 defaults 0 2\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("var/spool/cron/crontabs/app"),
        "@reboot /srv/app/run --serve >/dev/null 2>&1\n",
    )
    .unwrap();
    std::fs::create_dir_all(srv.join("app")).unwrap();
    sh(&format!("cp /bin/busybox {}/app/run", srv.display()));
    let disk = w.join("two.raw");
    let d = disk.display();
    sh(&format!("truncate -s 200M {d} && printf 'label: gpt\\nstart=2048, size=200000, type=linux\\nstart=204800, type=linux\\n' | sfdisk -q {d}"));
    sh(&format!(
        "mkfs.ext4 -q -F -d {} -E offset=1048576 {d} 100000k",
        root.display()
    ));
    sh(&format!(
        "mkfs.ext4 -q -F -U {uuid} -d {} -E offset=$((204800*512)) {d} 90000k",
        srv.display()
    ));
    let before = sha256(&disk);
    let snap = w.join("snap.json");
    run_ok(
        liftkit()
            .args(["collect", "--disk"])
            .arg(&disk)
            .arg("-o")
            .arg(&snap),
    );
    assert_eq!(sha256(&disk), before);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    let procs = s["processes"].as_array().unwrap();
    let run = procs
        .iter()
        .find(|p| p["exe"] == "/srv/app/run")
        .unwrap_or_else(|| panic!("declared from /srv: {s}"));
    assert_eq!(
        run["cmdline"],
        serde_json::json!(["/srv/app/run", "--serve"])
    );
    assert_eq!(run["uids"][0], 1000, "the crontab's owner");
    assert!(run["declared"]
        .as_str()
        .unwrap()
        .starts_with("cron @reboot at /var/spool/cron/crontabs/app:1"));
    let findings = s["findings"].to_string();
    assert!(
        findings.contains("mounted at /srv as the disk's /etc/fstab says"),
        "{findings}"
    );
}
