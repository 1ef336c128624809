//! `liftkit bench size`: how close the lifted image comes to what the application really touches.
//!
//! Starts nginx and redis under `strace -f` the way a legacy host runs them, serves a small
//! workload, lifts each with liftkit, and compares the image's files with the traced set:
//! recall (every traced file that exists on disk is in the image, or is state the plan keeps out
//! of it on purpose) and image bytes / traced bytes.

use super::common::human_bytes;
use anyhow::{bail, Context, Result};
use regex::Regex;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which applications to measure.
    #[arg(long, value_delimiter = ',', default_value = "nginx,redis")]
    pub apps: Vec<String>,
    /// Keep the work directory (traces, images) and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    app: String,
    traced_files: usize,
    traced_bytes: u64,
    covered: usize,
    /// Traced files that are state or logs the plan keeps out of the image on purpose.
    kept_out: BTreeMap<String, String>,
    missing: Vec<String>,
    recall_percent: f64,
    image_files: usize,
    image_bytes: u64,
    ratio: f64,
}

pub fn run(args: Args) -> Result<ExitCode> {
    for tool in ["strace", "nginx", "redis-server"] {
        if which(tool).is_none() {
            bail!("{tool} is not installed (apt-get install strace nginx-light redis-server)");
        }
    }
    let work = tempdir()?;
    let mut all = Vec::new();
    for app in &args.apps {
        let dir = work.join(app);
        std::fs::create_dir_all(&dir)?;
        set_mode(&dir, 0o755)?;
        let figures = match app.as_str() {
            "nginx" => measure(&dir, app, start_nginx, nginx_workload)?,
            "redis" => measure(&dir, app, start_redis, redis_workload)?,
            other => bail!("no size benchmark for {other:?} (known: nginx, redis)"),
        };
        all.push(figures);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print(&all);
    }
    if args.keep {
        eprintln!("work directory kept: {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(all: &[Figures]) {
    println!(
        "{:<8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>7}",
        "app", "traced", "traced", "recall", "image", "image", "ratio"
    );
    println!(
        "{:<8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>7}",
        "", "files", "bytes", "", "files", "bytes", ""
    );
    for f in all {
        println!(
            "{:<8} {:>8} {:>10} {:>8.1}% {:>8} {:>10} {:>7.2}",
            f.app,
            f.traced_files,
            human_bytes(f.traced_bytes),
            f.recall_percent,
            f.image_files,
            human_bytes(f.image_bytes),
            f.ratio
        );
        for (path, why) in &f.kept_out {
            println!("    kept out on purpose: {path} ({why})");
        }
        for path in &f.missing {
            println!("    MISSING from the image: {path}");
        }
    }
    println!("recall target 100%; ratio = image bytes / traced bytes, target <= 1.3");
}

struct Started {
    pid_file: PathBuf,
    trace: PathBuf,
}

fn measure(
    dir: &Path,
    app: &str,
    start: fn(&Path, u16) -> Result<Started>,
    workload: fn(u16) -> Result<()>,
) -> Result<Figures> {
    let port = free_port()?;
    let started = start(dir, port)?;
    let result = (|| {
        wait_for(port)?;
        workload(port)?;
        let pid = std::fs::read_to_string(&started.pid_file)
            .with_context(|| format!("{}: no pid file", started.pid_file.display()))?;
        let out = dir.join("out");
        let exe = std::env::current_exe()?;
        let status = Command::new(exe)
            .args(["lift", "--pid", pid.trim(), "--force", "-o"])
            .arg(&out)
            .output()?;
        if !status.status.success() {
            bail!(
                "lift of {app} failed: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        }
        Ok(out)
    })();
    stop(&started.pid_file);
    std::thread::sleep(Duration::from_millis(500));
    let out = result?;
    let app_dir = find_app_dir(&out)?;
    let plan = liftkit::plan::load(&out.join("plan.yaml"))?;
    compare(app, &started.trace, &app_dir, &plan.apps[0])
}

fn compare(
    app: &str,
    trace: &Path,
    app_dir: &Path,
    plan: &liftkit::plan::AppPlan,
) -> Result<Figures> {
    let traced = traced_files(trace)?;
    let (image_real, image_bytes, image_files) = image_contents(app_dir)?;
    let mut covered = 0;
    let mut traced_bytes = 0;
    let mut kept_out = BTreeMap::new();
    let mut missing = Vec::new();
    for (path, written) in &traced {
        let Ok(real) = std::fs::canonicalize(path) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if let Some(why) = kept_out_reason(path, &real, *written, plan) {
            kept_out.insert(path.clone(), why);
            continue;
        }
        traced_bytes += meta.len();
        if image_real.contains(&real) {
            covered += 1;
        } else {
            missing.push(path.clone());
        }
    }
    let counted = covered + missing.len();
    Ok(Figures {
        app: app.to_string(),
        traced_files: counted,
        traced_bytes,
        covered,
        kept_out,
        missing,
        recall_percent: if counted == 0 {
            0.0
        } else {
            100.0 * covered as f64 / counted as f64
        },
        image_files,
        image_bytes,
        ratio: if traced_bytes == 0 {
            0.0
        } else {
            image_bytes as f64 / traced_bytes as f64
        },
    })
}

/// State and logs are not image content: the plan makes them volumes, tmpfs or links to the
/// engine's log streams, and accounts generated from the snapshot replace the host's.
fn kept_out_reason(
    path: &str,
    real: &Path,
    written: bool,
    plan: &liftkit::plan::AppPlan,
) -> Option<String> {
    let under = |dir: &str| real.starts_with(dir) || Path::new(path).starts_with(dir);
    if let Some(v) = plan.volumes.iter().find(|v| under(&v.path)) {
        return Some(format!("volume {}", v.path));
    }
    if let Some(l) = plan.links.iter().find(|l| l.path == path) {
        return Some(format!("log sent to {}", l.target));
    }
    if let Some(g) = plan.generated.iter().find(|g| g.path == path) {
        return Some(format!("generated: {}", g.why));
    }
    if written {
        return Some("written by the application at run time".to_string());
    }
    None
}

/// Every path a traced syscall named and succeeded on, with whether it was opened for writing.
fn traced_files(trace: &Path) -> Result<BTreeMap<String, bool>> {
    let text =
        std::fs::read_to_string(trace).with_context(|| format!("{}: no trace", trace.display()))?;
    let line = Regex::new(r#"^\d+\s+(\w+)\((?:AT_FDCWD, |\d+, )?"([^"]+)"(.*)\) = (-?\d+)"#)
        .expect("valid regex");
    let mut files: BTreeMap<String, bool> = BTreeMap::new();
    for l in text.lines() {
        let Some(c) = line.captures(l) else { continue };
        let (call, path, rest, result) = (&c[1], &c[2], &c[3], &c[4]);
        if result.starts_with('-') || !path.starts_with('/') {
            continue;
        }
        if ["/proc/", "/sys/", "/dev/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            continue;
        }
        let counted = matches!(
            call,
            "open"
                | "openat"
                | "execve"
                | "stat"
                | "newfstatat"
                | "access"
                | "faccessat"
                | "faccessat2"
                | "readlink"
                | "statx"
        );
        if !counted {
            continue;
        }
        let writes =
            rest.contains("O_WRONLY") || rest.contains("O_RDWR") || rest.contains("O_CREAT");
        *files.entry(path.to_string()).or_default() |= writes;
    }
    Ok(files)
}

/// Real paths (on this host) of the regular files in the image's layer, their bytes and count.
fn image_contents(app_dir: &Path) -> Result<(BTreeSet<PathBuf>, u64, usize)> {
    let oci = app_dir.join("oci");
    let blob = |digest: &str| {
        oci.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let read_json = |p: PathBuf| -> Result<serde_json::Value> {
        Ok(serde_json::from_str(
            &std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?,
        )?)
    };
    let index = read_json(oci.join("index.json"))?;
    let manifest = read_json(blob(
        index["manifests"][0]["digest"].as_str().unwrap_or_default(),
    ))?;
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap_or_default());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&layer)?));
    let mut real = BTreeSet::new();
    let (mut bytes, mut files) = (0, 0);
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.header().entry_type().is_file() {
            let path = Path::new("/").join(entry.path()?);
            bytes += entry.header().size()?;
            files += 1;
            real.insert(std::fs::canonicalize(&path).unwrap_or(path));
        }
    }
    Ok((real, bytes, files))
}

fn start_nginx(dir: &Path, port: u16) -> Result<Started> {
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    std::fs::write(www.join("index.html"), "<h1>size benchmark</h1>\n")?;
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\nhttp {{\n  include /etc/nginx/mime.types;\n  \
             access_log {d}/access.log;\n  server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n}}\n",
            d = dir.display()
        ),
    )?;
    let trace = dir.join("trace.txt");
    spawn_traced(
        &trace,
        &["/usr/sbin/nginx", "-c", &conf.to_string_lossy()],
        dir,
    )?;
    Ok(Started {
        pid_file: dir.join("nginx.pid"),
        trace,
    })
}

fn start_redis(dir: &Path, port: u16) -> Result<Started> {
    std::fs::create_dir_all(dir.join("data"))?;
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\ndir {d}/data\npidfile {d}/redis.pid\n\
             logfile {d}/redis.log\nsave \"\"\n",
            d = dir.display()
        ),
    )?;
    let trace = dir.join("trace.txt");
    spawn_traced(
        &trace,
        &["/usr/bin/redis-server", &conf.to_string_lossy()],
        dir,
    )?;
    Ok(Started {
        pid_file: dir.join("redis.pid"),
        trace,
    })
}

/// Runs the daemon under `strace -f` with the clean environment an init system gives.
fn spawn_traced(trace: &Path, argv: &[&str], cwd: &Path) -> Result<()> {
    Command::new("strace")
        .args(["-f", "-qq", "-s", "512", "-e", "trace=%file,execve", "-o"])
        .arg(trace)
        .args(argv)
        .current_dir(cwd)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .spawn()
        .with_context(|| format!("cannot start {}", argv[0]))?;
    Ok(())
}

fn nginx_workload(port: u16) -> Result<()> {
    for path in ["/", "/no-such-page"] {
        exchange(
            port,
            format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes(),
        )?;
    }
    Ok(())
}

fn redis_workload(port: u16) -> Result<()> {
    for cmd in ["PING", "SET bench value", "GET bench", "SAVE"] {
        exchange(port, format!("{cmd}\r\n").as_bytes())?;
    }
    Ok(())
}

fn exchange(port: u16, request: &[u8]) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(request)?;
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn wait_for(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing answered on port {port}")
}

fn stop(pid_file: &Path) {
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill(2) with a pid read from the daemon's own pid file and SIGTERM.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

fn find_app_dir(out: &Path) -> Result<PathBuf> {
    std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("build.json").exists())
        .with_context(|| format!("{}: no built app", out.display()))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("liftkit-bench-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    set_mode(&dir, 0o755)?;
    Ok(dir)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
}
