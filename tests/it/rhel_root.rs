//! A RHEL-like host: RPMs built here by `rpmbuild` (Debian's rpm) from this machine's redis and
//! its libraries laid out as RHEL does (`/usr/lib64`, `/lib64` → `usr/lib64`), installed into a
//! root with `rpm --root … --dbpath`, its unit enabled with an `/etc/sysconfig` environment file,
//! SELinux labels on its files, made into a disk. The lift sees the rpm packages, their owners and
//! versions and the operator's config change, writes rpm purls, and the image answers.
//! The same headers in a Berkeley DB made by Berkeley DB itself (`db5.3_load`, checked with rpm's
//! own `bdb_ro` reader) and in ndb read alike.

use crate::common;

use common::*;
use std::path::Path;
use std::process::Command;

fn sh(script: &str) -> String {
    let out = Command::new("sh").arg("-ec").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const SPEC_HEAD: &str = "%define __os_install_post %{nil}\n%define debug_package %{nil}\n%define _build_id_links none\nAutoReqProv: no\nLicense: MIT\nBuildArch: x86_64\n";

/// Builds an rpm whose payload is `stage` (listed in `files`, with `%config` where asked).
fn rpmbuild(
    top: &Path,
    name: &str,
    version: &str,
    stage: &Path,
    files: &str,
) -> std::path::PathBuf {
    std::fs::create_dir_all(top).unwrap();
    let spec = top.join(format!("{name}.spec"));
    std::fs::write(
        &spec,
        format!("{SPEC_HEAD}Name: {name}\nVersion: {version}\nRelease: 1.el9\nSummary: {name}\n%description\n{name}\n%install\ncp -a {}/. %{{buildroot}}/\n%files\n{files}\n", stage.display()),
    )
    .unwrap();
    sh(&format!(
        "rpmbuild --quiet --define '_topdir {t}' -bb {s}",
        t = top.display(),
        s = spec.display()
    ));
    top.join(format!("RPMS/x86_64/{name}-{version}-1.el9.x86_64.rpm"))
}

fn rhel_root(work: &Path, port: u16) -> std::path::PathBuf {
    let top = work.join("rpmbuild");
    // lkbase: the C library and redis's libraries where RHEL keeps them, merged /usr.
    let base = work.join("stage-base");
    let b = base.display();
    sh(&format!("mkdir -p {b}/usr/lib64 {b}/usr/bin {b}/etc && cd {b} && ln -s usr/lib64 lib64 && ln -s usr/bin bin && ln -s usr/lib lib && ln -s usr/sbin sbin && mkdir -p usr/lib usr/sbin"));
    let libs = sh("ldd /usr/bin/redis-check-rdb | awk '/=>/ {print $3}'");
    for lib in libs.lines().filter(|l| l.starts_with('/')) {
        let name = Path::new(lib)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        sh(&format!("cp -L {lib} {b}/usr/lib64/{name}"));
    }
    sh(&format!(
        "cp -L /lib64/ld-linux-x86-64.so.2 {b}/usr/lib64/ && cp /bin/busybox {b}/usr/bin/sh"
    ));
    std::fs::write(base.join("etc/os-release"), "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.2\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.2 (Plow)\"\n").unwrap();
    let base_rpm = rpmbuild(&top, "lkbase", "9.2", &base, "/lib64\n/bin\n/lib\n/sbin\n/usr/lib64\n/usr/bin/sh\n/etc/os-release\n%dir /usr/lib\n%dir /usr/sbin");
    // lkredis: the server, its config, unit and sysconfig file.
    let red = work.join("stage-redis");
    let r = red.display();
    sh(&format!("mkdir -p {r}/usr/bin {r}/etc/lkredis {r}/etc/sysconfig {r}/usr/lib/systemd/system {r}/var/lib/redis && cp -L /usr/bin/redis-check-rdb {r}/usr/bin/redis-server"));
    std::fs::write(
        red.join("etc/lkredis/redis.conf"),
        "bind 127.0.0.1\nport 6379\ndir /var/lib/redis\nsave \"\"\nprotected-mode yes\n",
    )
    .unwrap();
    std::fs::write(red.join("etc/sysconfig/lkredis"), "# set by the package\nOPTIONS=\"/etc/lkredis/redis.conf\"\nLKREDIS_SITE=\"rhel-fixture\"\n").unwrap();
    std::fs::write(
        red.join("usr/lib/systemd/system/lkredis.service"),
        "[Unit]\nDescription=lkredis\n[Service]\nType=simple\nUser=redis\nEnvironmentFile=/etc/sysconfig/lkredis\nExecStart=/usr/bin/redis-server $OPTIONS\nLimitNOFILE=10240\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let redis_rpm = rpmbuild(&top, "lkredis", "7.0.11", &red, "/usr/bin/redis-server\n%config(noreplace) /etc/lkredis/redis.conf\n%config(noreplace) /etc/sysconfig/lkredis\n/usr/lib/systemd/system/lkredis.service\n%dir /var/lib/redis");
    let root = work.join("root");
    sh(&format!("mkdir -p {0} && rpm --root {0} --dbpath /var/lib/rpm --nodeps --noscripts --ignoreos -i {1} {2} 2>/dev/null", root.display(), base_rpm.display(), redis_rpm.display()));
    // What an operator did after installing: another port, the unit enabled, the account.
    let conf = root.join("etc/lkredis/redis.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("port 6379", &format!("port {port}"));
    std::fs::write(&conf, text).unwrap();
    sh(&format!("mkdir -p {0}/etc/systemd/system/multi-user.target.wants && ln -s /usr/lib/systemd/system/lkredis.service {0}/etc/systemd/system/multi-user.target.wants/lkredis.service && chown 991:991 {0}/var/lib/redis", root.display()));
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nredis:x:991:991:Redis:/var/lib/redis:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nredis:x:991:\n").unwrap();
    std::fs::write(root.join("etc/hostname"), "oldrhel\n").unwrap();
    // The loader here is Debian's, whose built-in directories are multiarch: the cache a RHEL
    // host has (`ldconfig`) tells it where lib64 is, as RHEL's own cache does.
    std::fs::write(root.join("etc/ld.so.conf"), "/usr/lib64\n").unwrap();
    sh(&format!("ldconfig -r {}", root.display()));
    std::fs::create_dir_all(root.join("etc/selinux")).unwrap();
    std::fs::write(
        root.join("etc/selinux/config"),
        "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
    )
    .unwrap();
    for (p, label) in [
        ("etc", "system_u:object_r:etc_t:s0"),
        (
            "etc/lkredis/redis.conf",
            "system_u:object_r:redis_conf_t:s0",
        ),
        ("usr/bin/redis-server", "system_u:object_r:redis_exec_t:s0"),
    ] {
        set_label(&root.join(p), label);
    }
    root
}

fn set_label(path: &Path, label: &str) {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new("security.selinux").unwrap();
    let v = format!("{label}\0");
    // SAFETY: valid strings and buffer.
    let rc = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
    assert_eq!(
        rc,
        0,
        "setxattr {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// name, version-release and arch per package, as rpm's own query prints them.
fn rpm_query(args: &str) -> Vec<String> {
    let mut v: Vec<String> = sh(&format!(
        "rpm {args} -qa --qf '%{{NAME}} %{{VERSION}}-%{{RELEASE}} %{{ARCH}}\\n' 2>/dev/null"
    ))
    .lines()
    .map(str::to_string)
    .collect();
    v.sort();
    v
}

fn ours(root: &Path) -> Vec<String> {
    let db = liftkit::snapshot::collect::rpm::read(&liftkit::host::at(root))
        .unwrap()
        .unwrap();
    db.packages
        .iter()
        .map(|h| format!("{} {} {}", h.name, h.evr, h.arch))
        .collect()
}

#[test]
fn rhel_disk_lifts_with_rpm_owners_versions_changed_config_and_rpm_purls() {
    let work = public_tempdir();
    let port = free_port();
    let root = rhel_root(work.path(), port);

    // The three database forms read alike, and as rpm itself reads them.
    let sqlite = ours(&root);
    assert_eq!(
        sqlite,
        rpm_query(&format!("--root {} --dbpath /var/lib/rpm", root.display()))
    );
    assert_eq!(
        sqlite,
        ["lkbase 9.2-1.el9 x86_64", "lkredis 7.0.11-1.el9 x86_64"]
    );
    let bdb_root = work.path().join("bdb-root");
    let bdb_dir = bdb_root.join("var/lib/rpm");
    std::fs::create_dir_all(&bdb_dir).unwrap();
    let rows = sh(&format!(
        "sqlite3 {}/var/lib/rpm/rpmdb.sqlite 'select hnum, hex(blob) from Packages order by hnum'",
        root.display()
    ));
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n 00000000\n 03000000\n");
    let mut blobs = Vec::new();
    for row in rows.lines() {
        let (n, hexblob) = row.split_once('|').unwrap();
        let n: u32 = n.parse().unwrap();
        dump.push_str(&format!(
            " {}\n {}\n",
            hex::encode(n.to_le_bytes()),
            hexblob.to_lowercase()
        ));
        blobs.push(hex::decode(hexblob).unwrap());
    }
    dump.push_str("DATA=END\n");
    std::fs::write(work.path().join("dump"), dump).unwrap();
    sh(&format!(
        "db5.3_load -f {}/dump {}/Packages",
        work.path().display(),
        bdb_dir.display()
    ));
    assert_eq!(
        rpm_query(&format!(
            "--dbpath {} --define '_db_backend bdb_ro'",
            bdb_dir.display()
        )),
        sqlite,
        "rpm's own reader agrees the fixture is rpm's format"
    );
    assert_eq!(ours(&bdb_root), sqlite);
    let ndb_root = work.path().join("ndb-root");
    std::fs::create_dir_all(ndb_root.join("var/lib/rpm")).unwrap();
    std::fs::write(
        ndb_root.join("var/lib/rpm/Packages.db"),
        liftkit::snapshot::collect::rpm::ndb::write(&blobs),
    )
    .unwrap();
    assert_eq!(ours(&ndb_root), sqlite);

    // The disk: the root as one ext4 file system, no partition table.
    let disk = work.path().join("rhel.raw");
    sh(&format!(
        "truncate -s 200M {0} && mkfs.ext4 -q -F -d {1} {0}",
        disk.display(),
        root.display()
    ));
    let before = sh(&format!("sha256sum < {}", disk.display()));
    let out = work.path().join("out");
    let o = liftkit()
        .args(["lift", "--disk"])
        .arg(&disk)
        .args(["--app", "redis", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(sh(&format!("sha256sum < {}", disk.display())), before);
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&plan).unwrap();
    let app = &v["apps"][0];
    let file = |p: &str| {
        app["files"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|f| {
                f["path"] == p
                    || f["path"].as_str().map(|s| s.trim_start_matches("/usr")) == Some(p)
            })
            .unwrap_or_else(|| panic!("{p} in the plan:\n{plan}"))
            .clone()
    };
    assert_eq!(file("/usr/bin/redis-server")["package"], "lkredis");
    // RHEL's loader searches /lib64 (→ usr/lib64 on merged /usr): the paths it opens.
    assert_eq!(
        file("/lib64/libc.so.6")["package"],
        "lkbase",
        "libraries found in lib64"
    );
    assert_eq!(file("/lib64/libjemalloc.so.2")["package"], "lkbase");
    assert_eq!(
        file("/lib64/ld-linux-x86-64.so.2")["package"],
        "lkbase",
        "RHEL's loader path"
    );
    assert!(
        !plan.contains("x86_64-linux-gnu"),
        "no Debian multiarch path on a RHEL root"
    );
    let why = serde_yaml_ng::to_string(&file("/etc/lkredis/redis.conf")["why"]).unwrap();
    assert!(
        why.contains("%config of rpm lkredis, changed since installed"),
        "{why}"
    );
    let pkgs = serde_yaml_ng::to_string(&app["packages"]).unwrap();
    assert!(
        pkgs.contains("version: 7.0.11-1.el9") && pkgs.contains("arch: x86_64"),
        "{pkgs}"
    );
    let env = serde_yaml_ng::to_string(&app["image"]["env"]).unwrap();
    assert!(
        env.contains("LKREDIS_SITE=rhel-fixture"),
        "/etc/sysconfig file named by the unit: {env}"
    );
    let findings = serde_yaml_ng::to_string(&app["findings"]).unwrap();
    assert!(
        findings.contains("SELinux on the source: enforcing (targeted); files labelled"),
        "{findings}"
    );
    let dir = app_dir(&out);
    let sbom = std::fs::read_to_string(dir.join("sbom.cdx.json")).unwrap();
    assert!(
        sbom.contains("pkg:rpm/redhat/lkredis@7.0.11-1.el9?arch=x86_64&distro=rhel-9.2"),
        "{sbom}"
    );
    // Valid against CycloneDX's own schema, and each purl parses as the purl spec says.
    let check = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, json\nfrom cyclonedx.validation.json import JsonStrictValidator\n\
             from cyclonedx.schema import SchemaVersion\nfrom packageurl import PackageURL\n\
             t = open(sys.argv[1]).read()\n\
             e = JsonStrictValidator(SchemaVersion.V1_5).validate_str(t)\n\
             p = [PackageURL.from_string(c['purl']) for c in json.loads(t)['components']]\n\
             print(str(e)[:400] if e else 'valid ' + ' '.join(sorted(x.type + ':' + x.name + '@' + x.version for x in p)))",
        )
        .arg(dir.join("sbom.cdx.json"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "valid rpm:lkbase@9.2-1.el9 rpm:lkredis@7.0.11-1.el9",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Labels stay out of the layers: the layer tar holds no extended attribute records.
    let layers = sh(&format!("for b in {}/oci/blobs/sha256/*; do (tar -tzvf $b --xattrs 2>/dev/null || true); done | head -5000", dir.display()));
    assert!(!layers.is_empty());
    assert!(
        !sh(&format!(
            "cat {}/oci/blobs/sha256/* | zcat -f 2>/dev/null | grep -ac 'security.selinux' || true",
            dir.display()
        ))
        .trim()
        .starts_with(|c: char| c != '0'),
        "no label in any blob"
    );

    // Scanner records: the image's own rpm database, listing exactly its packages, readable by rpm.
    let img_db = work.path().join("image-rpmdb");
    std::fs::create_dir_all(&img_db).unwrap();
    sh(&format!(
        "for b in {}/oci/blobs/sha256/*; do tar -xzf $b -C {} var/lib/rpm/rpmdb.sqlite 2>/dev/null && break; done; test -s {}/var/lib/rpm/rpmdb.sqlite",
        dir.display(),
        img_db.display(),
        img_db.display()
    ));
    assert_eq!(
        rpm_query(&format!("--dbpath {}/var/lib/rpm", img_db.display())),
        ["lkbase 9.2-1.el9 x86_64", "lkredis 7.0.11-1.el9 x86_64"]
    );
    // Reproducible: the plan built again from the disk gives the same layer, database included.
    let again = work.path().join("again");
    run_ok(
        liftkit()
            .arg("build")
            .arg(out.join("plan.yaml"))
            .arg("-o")
            .arg(&again),
    );
    let layer = |d: &Path| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(d.join("build.json")).unwrap(),
        )
        .unwrap()["layer_digest"]
            .clone()
    };
    assert_eq!(layer(&app_dir(&again)), layer(&dir));

    let name = format!("lk-rhel-{port}");
    let _cleanup = Cleanup {
        container: name.clone(),
        image: format!("localhost/liftkit/{name}"),
    };
    start_lifted_answering(&dir, &name, port);
    assert_eq!(redis(port, &["PING"]).trim(), "+PONG");
}
