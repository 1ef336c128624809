//! `collect` against the machine running the tests, checked through processes and sockets the
//! test itself owns.

use liftkit::snapshot::collect::{collect, CollectOptions};
use liftkit::snapshot::{Snapshot, SCHEMA_VERSION};
use std::cell::RefCell;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

const MARK: &str = "LIFTKIT_COLLECT_TEST_MARK";

/// A child with a distinctive environment and working directory, killed when dropped.
struct Sleeper {
    child: Child,
    cwd: tempfile::TempDir,
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct World {
    sleeper: Sleeper,
    tcp: TcpListener,
    udp: UdpSocket,
    snapshot: Snapshot,
    progress: Vec<(usize, usize)>,
}

/// One collect shared by every test here: each is a view of the same snapshot, and collecting
/// once keeps the suite fast on two cores.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let cwd = tempfile::tempdir().unwrap();
        let mut command = Command::new("sleep");
        command
            .arg("30")
            .env(MARK, "hello from the test")
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The world is a static, never dropped: the child must not outlive the test thread that
        // made it, nor hold cargo's output pipe open.
        // SAFETY: prctl is async-signal-safe and touches nothing of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        let sleeper = Sleeper { child, cwd };
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let calls = RefCell::new(Vec::new());
        let progress = |done: usize, total: usize| calls.borrow_mut().push((done, total));
        let started = Instant::now();
        let snapshot = collect(&CollectOptions::default(), &progress);
        eprintln!(
            "collect: {:?}, {} processes, {} sockets, {} packages, {} findings",
            started.elapsed(),
            snapshot.processes.len(),
            snapshot.sockets.len(),
            snapshot.packages.len(),
            snapshot.findings.len()
        );
        World {
            sleeper,
            tcp,
            udp,
            snapshot,
            progress: calls.into_inner(),
        }
    })
}

fn me() -> i32 {
    std::process::id() as i32
}

#[test]
fn child_appears_with_cmdline_env_cwd_exe_and_parent() {
    let w = world();
    let pid = w.sleeper.child.id() as i32;
    let p = w
        .snapshot
        .process(pid)
        .expect("the sleeping child is listed");
    assert_eq!(p.ppid, me());
    assert_eq!(p.comm, "sleep");
    assert_eq!(p.cmdline, vec!["sleep", "30"]);
    assert_eq!(p.env(MARK), Some("hello from the test"));
    let cwd = w.sleeper.cwd.path().canonicalize().unwrap();
    assert_eq!(p.cwd.as_deref().map(Path::new), Some(cwd.as_path()));
    let exe = p.exe.as_deref().expect("exe of our own child is readable");
    assert!(exe.ends_with("/sleep"), "exe {exe}");
    assert!(p.start_time > 0);
    let uid = unsafe { libc::getuid() };
    assert_eq!(p.uids[0], uid);
    assert!(p.unreadable.is_empty(), "{:?}", p.unreadable);
    assert!(p.maps.iter().any(|m| m == exe), "sleep's maps name its exe");
}

#[test]
fn test_sockets_are_joined_to_this_process() {
    let w = world();
    let tcp_port = w.tcp.local_addr().unwrap().port();
    let tcp = w
        .snapshot
        .sockets
        .iter()
        .find(|s| s.proto == "tcp" && s.port == tcp_port)
        .expect("the listener is listed");
    assert_eq!(tcp.address, "127.0.0.1");
    assert_eq!(tcp.pids, vec![me()]);
    assert_eq!(tcp.uid, unsafe { libc::getuid() });

    let udp_port = w.udp.local_addr().unwrap().port();
    let udp = w
        .snapshot
        .sockets
        .iter()
        .find(|s| s.proto == "udp" && s.port == udp_port)
        .expect("the bound UDP socket is listed");
    assert_eq!(udp.address, "127.0.0.1");
    assert_eq!(udp.pids, vec![me()]);

    let mine: Vec<u16> = w.snapshot.sockets_of(&[me()]).map(|s| s.port).collect();
    assert!(mine.contains(&tcp_port) && mine.contains(&udp_port));
}

#[test]
fn this_process_maps_libc_and_has_limits() {
    let w = world();
    let p = w
        .snapshot
        .process(me())
        .expect("the collector keeps itself");
    assert!(
        p.maps.iter().any(|m| m.contains("/libc.so")),
        "maps: {:?}",
        p.maps
    );
    assert!(p
        .maps
        .iter()
        .all(|m| m.starts_with('/') && !m.ends_with(" (deleted)")));

    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    let as_option = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v);
    assert_eq!(
        p.limits.get("Max open files"),
        Some(&(as_option(rl.rlim_cur), as_option(rl.rlim_max)))
    );
    assert_eq!(p.limits.len(), 16);
    assert!(p.fds.iter().any(|f| f.target.starts_with("socket:[")));
    assert!(p.fds.windows(2).all(|w| w[0].fd < w[1].fd));
}

#[test]
fn kernel_threads_are_skipped_and_output_is_sorted() {
    let s = &world().snapshot;
    assert!(s.process(2).is_none(), "kthreadd is not an application");
    assert!(s.processes.iter().all(|p| p.ppid != 2));
    assert!(s.processes.windows(2).all(|w| w[0].pid < w[1].pid));
    let key = |s: &liftkit::snapshot::Socket| (s.proto.clone(), s.port, s.address.clone(), s.inode);
    assert!(s.sockets.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
}

#[test]
fn progress_counts_every_process() {
    let w = world();
    let total = w.progress.first().expect("progress was reported").1;
    assert!(total >= w.snapshot.processes.len());
    let dones: Vec<usize> = w.progress.iter().map(|(d, _)| *d).collect();
    assert_eq!(dones, (1..=total).collect::<Vec<_>>());
    assert!(w.progress.iter().all(|(_, t)| *t == total));
}

#[test]
fn users_groups_and_packages() {
    let s = &world().snapshot;
    let root = s.user_by_name("root").expect("root user");
    assert_eq!((root.uid, root.gid), (0, 0));
    assert!(root.line.starts_with("root:"));
    assert_eq!(s.group_by_gid(0).map(|g| g.name.as_str()), Some("root"));
    if Path::new("/var/lib/dpkg/status").exists() {
        assert!(
            s.package("dpkg").is_some() || s.package("libc6").is_some(),
            "{} packages",
            s.packages.len()
        );
        assert!(s.packages.iter().all(|p| !p.version.is_empty()));
    }
}

#[test]
fn host_facts() {
    let s = &world().snapshot;
    assert_eq!(s.schema, SCHEMA_VERSION);
    assert_eq!(s.liftkit_version, env!("CARGO_PKG_VERSION"));
    let t = s.collected_at.as_bytes();
    assert_eq!(t.len(), 20, "{}", s.collected_at);
    assert_eq!((t[4], t[10], t[19]), (b'-', b'T', b'Z'));
    let h = &s.host;
    assert!(!h.hostname.is_empty() && !h.kernel.is_empty());
    assert_eq!(h.arch, std::env::consts::ARCH);
    assert!(!h.boot_cmdline.is_empty() || Path::new("/proc/cmdline").metadata().is_err());
    if h.arch == "x86_64" {
        assert!((1..=4).contains(&h.cpu_level), "cpu_level {}", h.cpu_level);
    }
    let somaxconn = h.sysctls.get("net.core.somaxconn").expect("somaxconn");
    assert!(somaxconn.parse::<u32>().is_ok());
    if let Some(range) = h.sysctls.get("net.ipv4.ip_local_port_range") {
        assert_eq!(range.split(' ').count(), 2, "{range}");
    }
    assert!(h
        .addresses
        .iter()
        .all(|a| a.contains('/') && !a.starts_with("127.")));
    assert!(h.os_release.contains_key("ID") || Path::new("/etc/os-release").metadata().is_err());
}

#[test]
fn round_trips_through_json() {
    let s = &world().snapshot;
    let json = serde_json::to_string(s).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, s);
}

#[test]
fn environ_can_be_left_behind() {
    let opts = CollectOptions {
        include_environ: false,
    };
    let s = collect(&opts, &|_, _| {});
    assert!(s.processes.iter().all(|p| p.environ.is_empty()));
    assert!(s.process(me()).is_some());
}
