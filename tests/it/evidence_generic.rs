//! The generic path's evidence on real daemons started as legacy hosts start them, no analyzer
//! knowing them: each test proves one cause of issue 11 on a real program — the plan holds what
//! it needs with the right reason, role and confidence — and, where cheap, the lifted image
//! answers like the original once the original is stopped and its port closed.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Directories a test planted on the host and the daemon it started, removed when it ends.
struct Planted {
    dirs: Vec<PathBuf>,
    child: Option<Child>,
    /// Processes the child started (a wrapper's daemon), stopped with it.
    also: Vec<u32>,
}

impl Planted {
    fn new(dirs: &[&Path]) -> Self {
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
            set_mode(d, 0o755);
        }
        Planted {
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            child: None,
            also: Vec::new(),
        }
    }

    fn stop(&mut self) {
        for pid in self.also.drain(..) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.child = None;
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        self.stop();
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// One line of a plain TCP answer.
fn ask(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Lifts one pid with no analyzer knowing it; returns the plan's app and its output directory.
fn lift(pid: u32, out: &Path) -> (serde_yaml_ng::Value, PathBuf) {
    let lifted = liftkit()
        .args(["lift", "--pid", &pid.to_string(), "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        lifted.status.code().is_some_and(|c| c <= 1),
        "lift failed:\n{}",
        String::from_utf8_lossy(&lifted.stderr)
    );
    let plan: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("plan.yaml")).unwrap()).unwrap();
    let app = plan["apps"][0].clone();
    assert_eq!(app["analyzer"], "generic", "no analyzer knows it");
    (app, app_dir(out))
}

/// The plan's entry for a file: its role, reasons and confidence.
fn file<'a>(app: &'a serde_yaml_ng::Value, path: &str) -> &'a serde_yaml_ng::Value {
    app["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the plan"))
}

fn whys(entry: &serde_yaml_ng::Value) -> String {
    entry["why"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn in_plan(app: &serde_yaml_ng::Value, path: &str) -> bool {
    app["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|f| f["path"] == path)
}

/// Stops the original, proves its port closed, starts the image with run.sh and returns what it
/// answers on the same port.
fn run_lifted(
    p: &mut Planted,
    app_dir: &Path,
    port: u16,
    name: &str,
    probe: &dyn Fn() -> String,
) -> String {
    p.stop();
    assert!(
        wait_for_port_closed(port, Duration::from_secs(10)),
        "the original still answers"
    );
    let _cleanup = cleanup_of(app_dir, name);
    start_lifted(app_dir, name);
    assert!(
        wait_for_port(port, Duration::from_secs(60)),
        "the lifted app did not answer:\n{}",
        container_logs(name)
    );
    probe()
}

/// Cause 1 and 2: lighttpd started with `-f` on a configuration outside /etc that names its
/// document root and includes a directory of snippets: no descriptor shows either.
#[test]
fn lighttpd_with_its_config_on_the_command_line_and_its_docroot_only_in_it() {
    let site = PathBuf::from(format!("/srv/lk-lighttpd-{}", std::process::id()));
    let mut p = Planted::new(&[&site]);
    let port = free_port();
    let conf = site.join("lighttpd.conf");
    write(
        &conf,
        &format!(
            "server.document-root = \"{d}/htdocs\"\nserver.port = {port}\n\
             server.bind = \"127.0.0.1\"\nserver.errorlog = \"{d}/logs/error.log\"\n\
             index-file.names = ( \"index.html\" )\ninclude \"conf.d/*.conf\"\n",
            d = site.display()
        ),
    );
    write(
        &site.join("conf.d/mime.conf"),
        "mimetype.assign = ( \".html\" => \"text/html\" )\n",
    );
    write(
        &site.join("htdocs/index.html"),
        "<h1>a site lighttpd serves</h1>\n",
    );
    // Never asked for before the lift: only the configuration names it.
    write(&site.join("htdocs/about.html"), "<p>about the site</p>\n");
    std::fs::create_dir_all(site.join("logs")).unwrap();
    p.child = Some(
        daemon_command("/usr/sbin/lighttpd")
            .arg("-D")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "lighttpd did not start"
    );
    let original = http_get(port, "/");
    assert_eq!(original.0, 200);

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let c = file(&app, conf.to_str().unwrap());
    assert_eq!(c["role"], "config");
    assert!(
        whys(c).contains("named on the command line of pid") && whys(c).contains("(-f)"),
        "{}",
        whys(c)
    );
    let inc = file(&app, &format!("{}/conf.d/mime.conf", site.display()));
    assert_eq!(inc["confidence"], "declared");
    assert!(
        whys(inc).contains(&format!("included by {}:6", conf.display())),
        "{}",
        whys(inc)
    );
    let page = file(&app, &format!("{}/htdocs/about.html", site.display()));
    assert_eq!(page["role"], "code", "{}", whys(page));
    assert_eq!(page["confidence"], "guessed");
    assert!(
        whys(page).contains(&format!("named in {}:1", conf.display())),
        "{}",
        whys(page)
    );

    let served = file(&app, &format!("{}/htdocs/index.html", site.display()));
    assert_ne!(
        served["role"],
        "state",
        "read, not written: {}",
        whys(served)
    );

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-lighttpd-{port}"), &|| {
        format!(
            "{:?} {:?}",
            http_get(port, "/"),
            http_get(port, "/about.html")
        )
    });
    let about = (200, b"<p>about the site</p>\n".to_vec());
    assert_eq!(lifted, format!("{original:?} {about:?}"));
}

/// Cause 3 and 8 and the shell wrapper of cause 4: a vendor daemon reads its configuration by a
/// path compiled into it, once, at start; its library is found through the LD_LIBRARY_PATH the
/// wrapper that starts it exports; it reads LKV_MODE. It is started from a login shell whose
/// variables (tool paths, CI, cloud settings) must not reach the image.
#[test]
fn a_vendor_daemon_with_a_compiled_in_config_started_by_a_wrapper_from_a_login_shell() {
    let tag = format!("lkv{}", std::process::id());
    let opt = PathBuf::from(format!("/opt/{tag}"));
    let etc = PathBuf::from(format!("/etc/{tag}"));
    let srv = PathBuf::from(format!("/srv/{tag}"));
    let mut p = Planted::new(&[&opt, &etc, &srv]);
    let port = free_port();
    let work = tempfile::tempdir().unwrap();
    let src = work.path();
    write(
        &src.join("libvx.c"),
        "const char *vx_banner(void) { return \"VX 1.0\"; }\n",
    );
    write(
        &src.join("vendord.c"),
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
const char *vx_banner(void);
int main(void) {
    FILE *f = fopen(CONF, "r");
    if (!f) { perror(CONF); return 1; }
    int port = 0; char path[512] = {0}, greeting[256] = {0};
    if (fscanf(f, "port %d greeting %511s", &port, path) != 2) return 2;
    fclose(f);
    FILE *g = fopen(path, "r");
    if (!g || !fgets(greeting, sizeof greeting, g)) { perror(path); return 3; }
    fclose(g);
    greeting[strcspn(greeting, "\n")] = 0;
    const char *mode = getenv("LKV_MODE");
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) { perror("listen"); return 4; }
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        dprintf(c, "%s %s mode=%s\n", vx_banner(), greeting, mode ? mode : "none");
        close(c);
    }
}
"#,
    );
    let o = |f: &str| opt.join(f).to_string_lossy().into_owned();
    std::fs::create_dir_all(opt.join("lib")).unwrap();
    std::fs::create_dir_all(opt.join("bin")).unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-o", &o("lib/libvx.so")])
            .arg(src.join("libvx.c")),
    );
    run_ok(
        Command::new("gcc")
            .arg(format!("-DCONF=\"{}/vendord.conf\"", etc.display()))
            .arg("-o")
            .arg(o("bin/vendord"))
            .arg(src.join("vendord.c"))
            .args(["-L", &o("lib"), "-lvx"]),
    );
    write(
        &etc.join("vendord.conf"),
        &format!("port {port}\ngreeting {}/greeting.txt\n", srv.display()),
    );
    write(&srv.join("greeting.txt"), "hello from the vendor\n");
    write(
        &opt.join("bin/start.sh"),
        &format!(
            "#!/bin/sh\n# the vendor's start script\nexport LD_LIBRARY_PATH={o}/lib\n\
             LKV_MODE=production\nexport LKV_MODE\n{o}/bin/vendord\n",
            o = opt.display()
        ),
    );
    // The login shell of whoever started it by hand.
    let shell = Command::new("/bin/sh")
        .arg(opt.join("bin/start.sh"))
        .env_clear()
        .envs([
            (
                "PATH",
                "/root/go/bin:/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin",
            ),
            ("LANG", "C.UTF-8"),
            ("HOME", "/root"),
            ("SHELL", "/bin/bash"),
            ("GOPATH", "/root/go"),
            ("CI", "true"),
            ("AWS_PROFILE", "staging"),
            ("CLOUDSDK_CORE_PROJECT", "acme-prod"),
            ("HISTSIZE", "5000"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let wrapper = shell.id();
    p.child = Some(shell);
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "vendord did not start"
    );
    let original = ask(port);
    assert_eq!(original, "VX 1.0 hello from the vendor mode=production\n");
    let daemon: u32 = std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the wrapper's child");
    p.also.push(daemon);

    let (app, dir) = lift(daemon, &work.path().join("out"));
    let conf = file(&app, &format!("{}/vendord.conf", etc.display()));
    assert_eq!(
        (conf["role"].as_str(), conf["confidence"].as_str()),
        (Some("config"), Some("guessed"))
    );
    assert!(
        whys(conf).contains(&format!("path compiled into {}", o("bin/vendord"))),
        "{}",
        whys(conf)
    );
    let greeting = file(&app, &format!("{}/greeting.txt", srv.display()));
    assert!(
        whys(greeting).contains("vendord.conf:2"),
        "named in the config: {}",
        whys(greeting)
    );
    assert!(
        in_plan(&app, &o("lib/libvx.so")),
        "found through LD_LIBRARY_PATH"
    );
    let env: Vec<&str> = app["image"]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for kept in [
        "LKV_MODE=production",
        &format!("LD_LIBRARY_PATH={}/lib", opt.display()),
        "LANG=C.UTF-8",
    ] {
        assert!(env.contains(&kept), "{kept} kept: {env:?}");
    }
    let dropped = &app["image"]["env_dropped"];
    for gone in [
        "GOPATH",
        "CI",
        "AWS_PROFILE",
        "CLOUDSDK_CORE_PROJECT",
        "HISTSIZE",
    ] {
        let why = dropped[gone]
            .as_str()
            .unwrap_or_else(|| panic!("{gone} dropped: {env:?}"));
        assert!(why.contains("not read by the program"), "{gone}: {why}");
    }

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-vendord-{port}"), &|| {
        ask(port)
    });
    assert_eq!(lifted, original);
}

/// Cause 4: a node application run from its directory: the script is relative to the cwd, its
/// modules are `require('./lib/…')`, its settings a `config.json` it reads once, a package
/// under `node_modules`.
#[test]
fn a_node_app_run_from_its_directory() {
    let app_dir = PathBuf::from(format!("/srv/lk-node-{}", std::process::id()));
    let mut p = Planted::new(&[&app_dir]);
    let port = free_port();
    write(
        &app_dir.join("server.js"),
        "const http = require('http');\nconst fs = require('fs');\n\
         const greet = require('./lib/greet');\nconst banner = require('tiny-banner');\n\
         const cfg = JSON.parse(fs.readFileSync('config.json', 'utf8'));\n\
         http.createServer((req, res) => res.end(banner(greet(cfg.name)) + '\\n'))\n\
           .listen(cfg.port, '127.0.0.1');\n",
    );
    write(
        &app_dir.join("lib/greet.js"),
        "module.exports = (n) => `hello ${n}`;\n",
    );
    write(
        &app_dir.join("config.json"),
        &format!("{{\"name\": \"node\", \"port\": {port}}}\n"),
    );
    write(
        &app_dir.join("node_modules/tiny-banner/package.json"),
        "{\"name\": \"tiny-banner\", \"main\": \"lib/index.js\"}\n",
    );
    write(
        &app_dir.join("node_modules/tiny-banner/lib/index.js"),
        "module.exports = (s) => `** ${s} **`;\n",
    );
    p.child = Some(
        daemon_command("node")
            .arg("server.js")
            .current_dir(&app_dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "node did not start"
    );
    let original = http_get(port, "/");
    assert_eq!(original.1, b"** hello node **\n");

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let d = app_dir.display();
    let script = file(&app, &format!("{d}/server.js"));
    assert_eq!(script["role"], "code");
    assert!(
        whys(script).contains("the script node runs"),
        "{}",
        whys(script)
    );
    assert!(whys(file(&app, &format!("{d}/lib/greet.js")))
        .contains(&format!("required by {d}/server.js")));
    assert_eq!(file(&app, &format!("{d}/config.json"))["role"], "config");
    assert!(whys(file(
        &app,
        &format!("{d}/node_modules/tiny-banner/package.json")
    ))
    .contains("package tiny-banner"));

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-node-{port}"), &|| {
        format!("{:?}", http_get(port, "/"))
    });
    assert_eq!(lifted, format!("{original:?}"));
}

/// Cause 4: a perl script run from its directory with `use lib "$FindBin::Bin/lib"`, its own
/// module, core modules with XS parts (IO::Socket::INET → Socket), and a data file.
#[test]
fn a_perl_app_with_use_lib_and_core_modules() {
    let app_dir = PathBuf::from(format!("/srv/lk-perl-{}", std::process::id()));
    let mut p = Planted::new(&[&app_dir]);
    let port = free_port();
    write(
        &app_dir.join("app.pl"),
        "#!/usr/bin/perl\nuse strict;\nuse warnings;\nuse FindBin;\nuse lib \"$FindBin::Bin/lib\";\n\
         use Greeter;\nuse IO::Socket::INET;\n\
         open(my $fh, '<', 'words.txt') or die \"words: $!\";\nmy $word = <$fh>;\nchomp $word;\nclose $fh;\n\
         my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0], \
         Listen => 5, ReuseAddr => 1) or die \"listen: $!\";\n\
         while (my $c = $srv->accept) { my $r = <$c>; \
         print $c \"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n\" . Greeter::hello($word) . \"\\n\"; \
         close $c; }\n",
    );
    write(
        &app_dir.join("lib/Greeter.pm"),
        "package Greeter;\nuse strict;\nsub hello { return \"hello $_[0] from perl\" }\n1;\n",
    );
    write(&app_dir.join("words.txt"), "camel\n");
    p.child = Some(
        daemon_command("perl")
            .args(["app.pl", &port.to_string()])
            .current_dir(&app_dir)
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "perl did not start"
    );
    let original = http_get(port, "/");
    assert_eq!(original.1, b"hello camel from perl\n");

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let d = app_dir.display();
    assert!(whys(file(&app, &format!("{d}/app.pl"))).contains("the script perl runs"));
    let greeter = file(&app, &format!("{d}/lib/Greeter.pm"));
    assert!(
        whys(greeter).contains(&format!("used by {d}/app.pl")),
        "{}",
        whys(greeter)
    );
    assert_eq!(file(&app, &format!("{d}/words.txt"))["role"], "config");
    assert!(
        app["files"].as_sequence().unwrap().iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/auto/Socket/Socket.so"))),
        "the XS part of Socket"
    );

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-perl-{port}"), &|| {
        format!("{:?}", http_get(port, "/"))
    });
    assert_eq!(lifted, format!("{original:?}"));
}

/// Cause 7 (and python joining the runtime table): a script run by the name a version manager
/// gives the interpreter, a chain of links to the real one. The image must hold the name the
/// entrypoint uses; a plan whose entrypoint the image would not hold does not build.
#[test]
fn an_interpreter_started_through_a_chain_of_links() {
    let root = PathBuf::from(format!("/opt/lk-pyenv-{}", std::process::id()));
    let app_dir = PathBuf::from(format!("/srv/lk-py-{}", std::process::id()));
    let mut p = Planted::new(&[&root, &app_dir]);
    let port = free_port();
    std::fs::create_dir_all(root.join("versions/3.11/bin")).unwrap();
    std::fs::create_dir_all(root.join("shims")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/bin/python3.11",
        root.join("versions/3.11/bin/python3.11"),
    )
    .unwrap();
    std::os::unix::fs::symlink("python3.11", root.join("versions/3.11/bin/python3")).unwrap();
    let shim = root.join("shims/python3");
    std::os::unix::fs::symlink(root.join("versions/3.11/bin/python3"), &shim).unwrap();
    write(
        &app_dir.join("app.py"),
        "import http.server, sys\nimport greeting\n\
         class H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        \
         self.send_response(200)\n        self.end_headers()\n        \
         self.wfile.write(greeting.TEXT.encode())\n\
         http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
    );
    write(
        &app_dir.join("greeting.py"),
        "TEXT = 'python through a shim\\n'\n",
    );
    p.child = Some(
        daemon_command(shim.to_str().unwrap())
            .args(["app.py", &port.to_string()])
            .current_dir(&app_dir)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "python did not start"
    );
    let original = http_get(port, "/");
    assert_eq!(original.1, b"python through a shim\n");

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &out);
    assert_eq!(app["image"]["entrypoint"][0], shim.to_str().unwrap());
    assert!(whys(file(&app, shim.to_str().unwrap())).contains("the entrypoint runs it"));
    assert!(
        in_plan(&app, &format!("{}/greeting.py", app_dir.display())),
        "python's hook, in the table"
    );
    let layer = layer_paths(&dir);
    for link in [
        "shims/python3",
        "versions/3.11/bin/python3",
        "versions/3.11/bin/python3.11",
    ] {
        let inside = root
            .join(link)
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string();
        assert!(layer.contains(&inside), "{inside} in the image");
    }

    // The same plan naming a program the image lacks: the build refuses, saying what and where.
    let plan = std::fs::read_to_string(out.join("plan.yaml")).unwrap();
    let broken = plan.replace(
        &format!("  - {}\n", shim.display()),
        "  - /usr/local/bin/python3-gone\n",
    );
    assert_ne!(broken, plan);
    std::fs::write(work.path().join("broken.yaml"), broken).unwrap();
    let refused = liftkit()
        .arg("build")
        .arg(work.path().join("broken.yaml"))
        .arg("-o")
        .arg(work.path().join("broken-out"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("the entrypoint /usr/local/bin/python3-gone is not in the image"),
        "{err}"
    );

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-py-{port}"), &|| {
        format!("{:?}", http_get(port, "/"))
    });
    assert_eq!(lifted, format!("{original:?}"));
}

/// Cause 6 and part D: MariaDB with its data directory on the command line, written as it runs:
/// the directory is a volume populated from the host, marked as written live with what to do,
/// and the lifted database starts with its tables.
#[test]
fn mariadb_with_datadir_on_the_command_line_keeps_its_tables() {
    let base = PathBuf::from(format!("/srv/lk-mariadb-{}", std::process::id()));
    let mut p = Planted::new(&[&base]);
    let data = base.join("data");
    let run = base.join("run");
    for d in [&data, &run] {
        std::fs::create_dir_all(d).unwrap();
        run_ok(Command::new("chown").args(["mysql:mysql"]).arg(d));
    }
    run_ok(
        Command::new("mariadb-install-db")
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", data.display()))
            .stdout(Stdio::null()),
    );
    let port = free_port();
    let sock = run.join("mysqld.sock");
    p.child = Some(
        daemon_command("/usr/sbin/mariadbd")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}/mysqld.pid", run.display()))
            .args([
                "--user=mysql",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
            ])
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(60)),
        "mariadbd did not start"
    );
    let sql = |args: &[&str], q: &str| -> String {
        let out = run_ok(
            Command::new("mariadb")
                .args(args)
                .args(["-N", "-B", "-e", q]),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let via_socket = format!("--socket={}", sock.display());
    sql(
        &["-uroot", &via_socket],
        "CREATE DATABASE shop; CREATE TABLE shop.items (name VARCHAR(20)); \
         INSERT INTO shop.items VALUES ('lamp'), ('desk'); \
         CREATE USER 'lk'@'%' IDENTIFIED BY 'lk-pass'; GRANT SELECT ON shop.* TO 'lk'@'%';",
    );
    let tcp = ["-h127.0.0.1", &format!("-P{port}"), "-ulk", "-plk-pass"];
    let query = "SELECT name FROM shop.items ORDER BY name";
    let original = sql(&tcp, query);
    assert_eq!(original, "desk\nlamp\n");

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let volume = app["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["path"] == data.to_str().unwrap())
        .unwrap_or_else(|| panic!("the datadir is a volume: {:?}", app["volumes"]));
    assert_eq!(volume["kind"], "volume");
    assert_eq!(volume["populate"], true);
    assert!(
        volume["why"].as_str().unwrap().contains("(--datadir)"),
        "{:?}",
        volume["why"]
    );
    let live = volume["live_writes"]
        .as_str()
        .expect("marked as written while running");
    assert!(
        live.contains("writes here as it runs") && live.contains("Stop the application"),
        "{live}"
    );
    assert!(
        !app["files"].as_sequence().unwrap().iter().any(|f| f["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(data.to_str().unwrap()))),
        "no data file baked into the image"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("writes here as it runs"),
        "the report says so too"
    );

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-mariadb-{port}"), &|| {
        // The server answers before it is ready for queries: wait for the tables.
        for _ in 0..60 {
            let out = Command::new("mariadb")
                .args(tcp)
                .args(["-N", "-B", "-e", query])
                .output()
                .unwrap();
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        "no answer".to_string()
    });
    assert_eq!(lifted, original);
}

/// `collect` records how each descriptor was opened and the Unix sockets processes listen on:
/// the evidence for state. Snapshots written before it recorded them still load.
#[test]
fn collect_records_open_flags_and_unix_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("state.db");
    let _w = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&written)
        .unwrap();
    let read = dir.path().join("settings.conf");
    std::fs::write(&read, "x\n").unwrap();
    let _r = std::fs::File::open(&read).unwrap();
    let sock = dir.path().join("app.sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let snap = dir.path().join("snapshot.json");
    run_ok(liftkit().args(["collect", "-o"]).arg(&snap));
    let s = liftkit::snapshot::load(&snap).unwrap();
    let me = s
        .process(std::process::id() as i32)
        .expect("this test's process");
    let fd = |p: &Path| {
        me.fds
            .iter()
            .find(|f| f.target == p.to_str().unwrap())
            .unwrap_or_else(|| panic!("{} open: {:?}", p.display(), me.fds))
    };
    assert!(fd(&written).writes(), "{:?}", fd(&written));
    assert!(
        fd(&read).flags.is_some() && !fd(&read).writes(),
        "{:?}",
        fd(&read)
    );
    let listener = s
        .unix_sockets
        .iter()
        .find(|u| u.path == sock.to_str().unwrap())
        .unwrap_or_else(|| panic!("the listening socket: {:?}", s.unix_sockets));
    assert!(listener.pids.contains(&me.pid));
    // A snapshot of the fixtures, written before flags existed, loads with none.
    let old = liftkit::snapshot::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/nginx/snapshot.json"),
    )
    .unwrap();
    assert!(old
        .processes
        .iter()
        .flat_map(|p| &p.fds)
        .all(|f| f.flags.is_none()));
    assert!(old.unix_sockets.is_empty());
}

/// Cause 4 for ruby: a script run from its directory, `require_relative` of its own code,
/// the standard library's `socket` (an extension), and RubyGems, which ruby loads first.
#[test]
fn a_ruby_app_run_from_its_directory() {
    let app_dir = PathBuf::from(format!("/srv/lk-ruby-{}", std::process::id()));
    let mut p = Planted::new(&[&app_dir]);
    let port = free_port();
    write(
        &app_dir.join("app.rb"),
        "require 'socket'\nrequire_relative 'lib/greeter'\n\
         word = File.read('word.txt').strip\n\
         server = TCPServer.new('127.0.0.1', ARGV[0].to_i)\n\
         loop do\n  c = server.accept\n  c.gets\n  \
         c.print \"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n#{Greeter.hello(word)}\\n\"\n  \
         c.close\nend\n",
    );
    write(
        &app_dir.join("lib/greeter.rb"),
        "module Greeter\n  def self.hello(w) = \"hello #{w} from ruby\"\nend\n",
    );
    write(&app_dir.join("word.txt"), "gem\n");
    p.child = Some(
        daemon_command("ruby")
            .args(["app.rb", &port.to_string()])
            .current_dir(&app_dir)
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "ruby did not start"
    );
    let original = http_get(port, "/");
    assert_eq!(original.1, b"hello gem from ruby\n");

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let d = app_dir.display();
    assert!(whys(file(&app, &format!("{d}/app.rb"))).contains("the script ruby runs"));
    assert!(whys(file(&app, &format!("{d}/lib/greeter.rb")))
        .contains(&format!("required by {d}/app.rb")));
    assert_eq!(file(&app, &format!("{d}/word.txt"))["role"], "config");

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-ruby-{port}"), &|| {
        format!("{:?}", http_get(port, "/"))
    });
    assert_eq!(lifted, format!("{original:?}"));
}

/// Cause 4 for PHP on the command line: PHP's built-in server with its document root named
/// by `-t` and a router script that includes a library; its ini files and extensions.
#[test]
fn a_php_cli_server_with_its_docroot_on_the_command_line() {
    let app_dir = PathBuf::from(format!("/srv/lk-php-{}", std::process::id()));
    let mut p = Planted::new(&[&app_dir]);
    let port = free_port();
    write(
        &app_dir.join("router.php"),
        "<?php\nrequire_once __DIR__ . '/lib/greet.php';\n\
         if ($_SERVER['REQUEST_URI'] === '/') { echo greet(trim(file_get_contents('public/word.txt'))); return true; }\n\
         return false;\n",
    );
    write(
        &app_dir.join("lib/greet.php"),
        "<?php\nfunction greet($w) { return \"hello $w from php\\n\"; }\n",
    );
    write(&app_dir.join("public/word.txt"), "elephant\n");
    write(&app_dir.join("public/about.txt"), "served as a file\n");
    p.child = Some(
        daemon_command("php")
            .args([
                "-S",
                &format!("127.0.0.1:{port}"),
                "-t",
                "public",
                "router.php",
            ])
            .current_dir(&app_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "php did not start"
    );
    // php -S listens before it serves: the first answer is waited for.
    let ready = |path: &str| {
        crate::deploy_common::http_when_ready(port, path).expect("php answers within a minute")
    };
    let original = ready("/");
    assert_eq!(original.1, b"hello elephant from php\n");

    let work = tempfile::tempdir().unwrap();
    let (app, dir) = lift(p.child.as_ref().unwrap().id(), &work.path().join("out"));
    let d = app_dir.display();
    assert!(whys(file(&app, &format!("{d}/router.php"))).contains("the script php runs"));
    assert!(whys(file(&app, &format!("{d}/lib/greet.php")))
        .contains(&format!("included by {d}/router.php")));
    let about = file(&app, &format!("{d}/public/about.txt"));
    assert!(
        whys(about).contains("(-t)"),
        "the docroot named by -t: {}",
        whys(about)
    );
    let ini = app["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|f| whys(f).contains("php: ini file read at start-up"))
        .count();
    assert!(ini > 0, "PHP's ini files: {:?}", app["files"]);

    let lifted = run_lifted(&mut p, &dir, port, &format!("lk-php-{port}"), &|| {
        format!("{:?} {:?}", ready("/"), ready("/about.txt"))
    });
    assert_eq!(
        lifted,
        format!(
            "{original:?} {:?}",
            (200u16, b"served as a file\n".to_vec())
        )
    );
}
