//! Lifts a real PostgreSQL cluster, started the way an init script starts one (initdb'd into its
//! own directory, `pg_ctl start` as the postgres user, its own port and socket directory), and
//! proves the image serves the rows written before the lift from a consistent copy of the data
//! directory that keeps its owner and 0700 mode.

use crate::common;
use crate::deploy_common::*;

use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// bookworm's PostgreSQL (Debian `postgresql` → postgresql-15).
const BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(program: &str) -> Command {
    let mut c = daemon_command("/usr/sbin/runuser");
    c.args(["-u", "postgres", "--"])
        .arg(Path::new(BIN).join(program))
        .current_dir("/");
    c
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = run_ok(Command::new("id").args([flag, "postgres"]));
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// A cluster the test started: stopped (immediately) when the test ends, pass or fail.
struct Cluster {
    data: PathBuf,
}

impl Cluster {
    fn start(dir: &Path, port: u16) -> Cluster {
        let (uid, gid) = postgres_ids();
        let data = dir.join("data");
        let sock = dir.join("sock");
        let log = dir.join("postgres.log");
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&sock).unwrap();
        std::fs::write(&log, "").unwrap();
        for p in [&data, &sock, &log] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
        }
        set_mode(&data, 0o700);
        run_ok(
            as_postgres("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data),
        );
        // As a server its network's clients reach: connections from the subnets it is on
        // (in a pod, the pod network's) are trusted like local ones.
        let hba = data.join("pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).unwrap();
        text.push_str("host all all samenet trust\n");
        std::fs::write(&hba, text).unwrap();
        let cluster = Cluster { data: data.clone() };
        run_ok(
            as_postgres("pg_ctl")
                .args(["start", "-w", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .arg("-o")
                .arg(format!(
                    // Every address, as servers listen: the lifted server answers in a pod too.
                    "-p {port} -k {} -c listen_addresses=*",
                    sock.display()
                )),
        );
        assert!(wait_for_port(port, Duration::from_secs(20)));
        cluster
    }

    fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    fn stop(&self, mode: &str) {
        let _ = as_postgres("pg_ctl")
            .args(["stop", "-w", "-m", mode, "-D"])
            .arg(&self.data)
            .output();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

/// psql from the host, over TCP, as a client of the original or the lifted server would be.
fn psql(port: u16, sql: &str) -> Result<String, String> {
    let out = Command::new(Path::new(BIN).join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-A",
            "-t",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-p"])
        .arg(port.to_string())
        .arg("-c")
        .arg(sql)
        .output()
        .expect("psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The lifted server replays the backup's WAL before it answers queries.
fn psql_when_ready(port: u16, sql: &str, container: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match psql(port, sql) {
            Ok(out) => return out,
            Err(e) if Instant::now() > deadline => {
                panic!("{e}\ncontainer logs:\n{}", container_logs(container))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

#[test]
fn lifted_postgres_serves_the_rows_written_before_the_lift() {
    let dir = public_tempdir();
    let port = free_port();
    let cluster = Cluster::start(dir.path(), port);
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/postgresql/seed.sql"),
    )
    .unwrap();
    psql(port, &seed).unwrap();
    // Committed but in the WAL only (no checkpoint since): a copy of the table's files alone
    // would miss it; the base backup carries the WAL.
    psql(port, "INSERT INTO lifted (note) VALUES ('only-in-the-wal')").unwrap();

    let out = dir.path().join("out");
    run_ok(
        liftkit()
            .args(["lift", "--seccomp", "--pid"])
            .arg(cluster.pid().to_string())
            .arg("-o")
            .arg(&out)
            .env("ENGINE", ENGINE)
            .env("ENGINE_RUN_FLAGS", ENGINE_RUN_FLAGS),
    );
    let app_dir = app_dir(&out);
    let plan = liftkit::plan::load(&app_dir.join("plan.yaml")).unwrap();
    let app = &plan.apps[0];
    let data = cluster.data.to_string_lossy().into_owned();
    let (uid, gid) = postgres_ids();
    assert_eq!(app.analyzer, "postgresql");
    assert_eq!(
        (app.image.uid, app.image.gid),
        (uid, gid),
        "runs as postgres"
    );
    let e = &app.image.entrypoint;
    assert!(
        e[0].ends_with("/bin/postgres") && e.windows(2).any(|w| w == ["-D", data.as_str()]),
        "the postmaster in the foreground on its data directory: {e:?}"
    );
    assert!(
        e.contains(&port.to_string()),
        "the port it was started with: {e:?}"
    );
    assert_eq!(app.image.stop_signal.as_deref(), Some("SIGINT"));
    let volume = app
        .volumes
        .iter()
        .find(|v| v.path == data)
        .unwrap_or_else(|| panic!("the data directory is a volume: {:?}", app.volumes));
    assert_eq!(volume.populate_with.as_deref(), Some("pg_basebackup"));
    let sock = dir.path().join("sock").to_string_lossy().into_owned();
    assert!(app.dirs.iter().any(|d| d.path == sock), "{:?}", app.dirs);
    assert!(app.dirs.iter().any(|d| d.path == "/run/postgresql"));

    // The volume: a base backup (backup_label, no postmaster.pid), owner and mode kept.
    let vol = app_dir
        .join("volumes")
        .join(liftkit::plan::volume_name(&data));
    let meta = std::fs::metadata(&vol).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    assert!(
        vol.join("backup_label").exists(),
        "taken with pg_basebackup"
    );
    assert!(vol.join("PG_VERSION").exists() && vol.join("pg_wal").is_dir());
    assert!(!vol.join("postmaster.pid").exists());
    let wal_meta = std::fs::metadata(vol.join("global/pg_control")).unwrap();
    assert_eq!((wal_meta.uid(), wal_meta.mode() & 0o777), (uid, 0o600));

    let layer = layer_paths(&app_dir);
    for needed in [
        "usr/lib/postgresql/15/bin/postgres",
        "usr/share/postgresql/15/timezonesets/Default",
        "usr/share/zoneinfo/Etc/UTC",
        "usr/lib/postgresql/15/lib/plpgsql.so",
        "etc/passwd",
    ] {
        assert!(layer.iter().any(|p| p == needed), "{needed} in the image");
    }
    assert!(
        !layer.iter().any(|p| p.contains("llvmjit")),
        "no JIT/LLVM, even though the server lists its lib directory"
    );
    let data_rel = data.trim_start_matches('/');
    assert!(
        !layer.iter().any(|p| p.starts_with(&format!("{data_rel}/"))),
        "no data files baked into the image"
    );

    let container = format!("liftkit-test-postgres-{port}");
    let _cleanup = cleanup_of(&app_dir, &container);

    // verify: the lifted image beside the running original, same answers to both probes.
    let report = verify_same(&app_dir, &[]);
    // verify ran it as run.sh does: hardened, under its profile.
    assert_eq!(report["hardening"]["read_only_root"], true, "{report:#}");
    assert_eq!(report["hardening"]["no_new_privileges"], true);
    assert!(report["hardening"]["seccomp"]
        .as_str()
        .unwrap()
        .ends_with("/seccomp.json"));
    let probes = report["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2, "SSLRequest and a startup packet");
    assert!(probes.iter().all(|p| p["same"] == true), "{report:#}");
    assert!(
        probes[1]["lifted"]["Matched"]["answer_head"]
            .as_str()
            .unwrap()
            .contains("application_name"),
        "the lifted server authenticated and reported its parameters: {report:#}"
    );

    // The original goes away; the lifted server takes its port and answers psql.
    cluster.stop("fast");
    assert!(wait_for_port_closed(port, Duration::from_secs(20)));
    start_lifted(&app_dir, &container);
    let rows = psql_when_ready(port, "SELECT note FROM lifted ORDER BY id", &container);
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        ["written-on-the-source", "only-in-the-wal"],
        "{}",
        container_logs(&container)
    );
    assert_eq!(
        psql(port, "SELECT shout('lifted')").unwrap().trim(),
        "LIFTED",
        "plpgsql.so loads in the image"
    );
    psql(port, "INSERT INTO lifted (note) VALUES ('after')").unwrap();
    assert!(psql(port, "SELECT note FROM lifted WHERE id = 3")
        .unwrap()
        .contains("after"));

    // Hardened, under its own profile: postgres runs as its own user with no capability, and
    // writes only its data volume and the tmpfs of its sockets.
    let kept = assert_hardened(&app_dir, &container);
    assert!(kept.is_empty(), "postgres needs no capability: {kept:?}");
    assert_own_profile(&app_dir, &container);
    psql(port, "CHECKPOINT").unwrap();
    eprintln!(
        "table: postgres | none | {} syscalls | same",
        profile_size(&app_dir)
    );

    // What a platform team takes: syft reads the packages, the manifests validate, the
    // maintained Dockerfile names every package and every file no package gives.
    let (seen, planned) = syft_sees_the_plan(&app_dir);
    eprintln!("postgresql: syft {seen} / plan {planned} packages");
    assert_eq!(
        kinds(&kubernetes_validated(&app_dir)),
        ["Service", "StatefulSet"]
    );
    maintained_dockerfile_checked(&app_dir);

    // The exact Dockerfile's image on a copy of volumes/ (as run.sh left it), then the
    // StatefulSet whose claim the init container fills from the data image (the data as
    // lifted): both serve their rows.
    let _ = podman().args(["rm", "-f", "-t", "5", &container]).output();
    assert!(wait_for_port_closed(port, Duration::from_secs(20)));
    let fresh = dir.path().join("fresh-data");
    run_ok(Command::new("cp").arg("-a").arg(&vol).arg(&fresh));
    let tag = format!("localhost/liftkit-test/postgres-dockerfile-{port}:1");
    let rebuilt_name = format!("{container}-dockerfile");
    let rebuilt = dockerfile_rebuilt_on(&app_dir, &tag, &rebuilt_name, &[(&fresh, &data)]);
    let rows = psql_when_ready(port, "SELECT note FROM lifted ORDER BY id", &rebuilt_name);
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        ["written-on-the-source", "only-in-the-wal", "after"],
        "the Dockerfile's image serves the data volumes/ holds (run.sh's row included)"
    );
    drop(rebuilt);
    assert!(wait_for_port_closed(port, Duration::from_secs(20)));
    let docs = kubernetes_validated(&app_dir);
    let _images = Loaded::images(&app_dir);
    let play = KubePlay::start(&docs, dir.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    let rows = loop {
        match psql(port, "SELECT note FROM lifted ORDER BY id") {
            Ok(rows) => break rows,
            Err(e) if Instant::now() > deadline => panic!("{e}\npod logs:\n{}", play.logs()),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        ["written-on-the-source", "only-in-the-wal"],
        "the pod serves the rows its claim was filled with"
    );
}
