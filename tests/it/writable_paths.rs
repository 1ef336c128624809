//! Every directive of the taught stacks that names a path the server writes (scratch, caches,
//! pid files, sockets, locks, logs outside the engine's streams) lands in the plan as a
//! directory that exists in the image, a volume or a tmpfs: a server that cannot make its files
//! there dies at start in the container. One recorded host per stack, its configuration naming
//! each such path somewhere of its own.

use liftkit::analyze::{self, Selection};
use liftkit::plan::{AppPlan, VolumeKind};
use serde_json::{json, Value};
use std::path::Path;

/// A host running one process, recorded: the fixture's snapshot with that process alone.
fn plan_of(root: &Path, process: Value, port: u16) -> AppPlan {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/redis/snapshot.json");
    let mut snap: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let mut p = snap["processes"][0].clone();
    for (k, v) in process.as_object().unwrap() {
        p[k] = v.clone();
    }
    p["fds"] = json!([{ "fd": 3, "target": "socket:[7001]" }]);
    p["maps"] = json!([]);
    p["unit"] = Value::Null;
    p["uids"] = json!([0, 0, 0, 0]);
    p["gids"] = json!([0, 0, 0, 0]);
    let pid = p["pid"].clone();
    snap["processes"] = json!([p]);
    snap["sockets"] = json!([{ "proto": "tcp", "address": "127.0.0.1", "port": port,
                               "inode": 7001, "uid": 0, "pids": [pid] }]);
    snap["facts"] = json!([]);
    let snap: liftkit::snapshot::Snapshot = serde_json::from_value(snap).unwrap();
    let analyzers = analyze::spec::load_all(None).unwrap();
    let selected = analyze::select(&snap, &analyzers, &Selection::All).unwrap();
    let plan = analyze::plan(
        &snap,
        &liftkit::host::at(root),
        &analyzers,
        &selected,
        &analyze::Options::default(),
    );
    plan.apps.into_iter().next().unwrap()
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn exe(root: &Path, path: &str) {
    write(root, path, "\x7fELF not really\n");
}

/// Each path is a directory of the image, a volume or a tmpfs, or lies inside a volume filled
/// from the host. Under an empty directory (`/run`) is not enough: the server makes files, not
/// the directories that should hold them.
fn assert_writable(app: &AppPlan, paths: &[&str]) {
    let exact: Vec<&str> = app
        .dirs
        .iter()
        .map(|d| d.path.as_str())
        .chain(app.volumes.iter().map(|v| v.path.as_str()))
        .collect();
    let filled: Vec<&str> = app
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Volume && v.populate)
        .map(|v| v.path.as_str())
        .collect();
    for p in paths {
        assert!(
            exact.contains(p) || filled.iter().any(|w| p.starts_with(&format!("{w}/"))),
            "{}: {p} has no writable place in the plan; dirs and volumes: {exact:?}",
            app.analyzer
        );
    }
}

#[test]
fn nginx_caches_and_pid_directory() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/sbin/nginx");
    write(
        r,
        "/etc/nginx/nginx.conf",
        "pid /run/nginx-own/nginx.pid;\nevents {}\nhttp {\n  client_body_temp_path /var/spool/ngx/body 1 2;\n  \
         proxy_temp_path /var/spool/ngx/proxy;\n  fastcgi_temp_path /var/spool/ngx/fcgi;\n  \
         uwsgi_temp_path /var/spool/ngx/uwsgi;\n  scgi_temp_path /var/spool/ngx/scgi;\n  \
         proxy_cache_path /var/cache/ngx-proxy levels=1:2 keys_zone=one:1m;\n  \
         fastcgi_cache_path /var/cache/ngx-fcgi keys_zone=two:1m;\n  server { listen 8080; }\n}\n",
    );
    let app = plan_of(
        r,
        json!({ "comm": "nginx", "exe": "/usr/sbin/nginx",
                "cmdline": ["nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf"], "cwd": "/" }),
        8080,
    );
    assert_eq!(app.analyzer, "nginx");
    assert_writable(
        &app,
        &[
            "/run/nginx-own",
            "/var/spool/ngx/body",
            "/var/spool/ngx/proxy",
            "/var/spool/ngx/fcgi",
            "/var/spool/ngx/uwsgi",
            "/var/spool/ngx/scgi",
            "/var/cache/ngx-proxy",
            "/var/cache/ngx-fcgi",
        ],
    );
}

#[test]
fn redis_pid_socket_and_data_directories() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/bin/redis-server");
    write(
        r,
        "/etc/redis/own.conf",
        "port 6390\ndir /srv/redis-data\npidfile /run/redis-own/redis.pid\n\
         unixsocket /run/redis-sock/redis.sock\nlogfile \"\"\n",
    );
    let app = plan_of(
        r,
        json!({ "comm": "redis-server", "exe": "/usr/bin/redis-server",
                "cmdline": ["/usr/bin/redis-server", "/etc/redis/own.conf"], "cwd": "/" }),
        6390,
    );
    assert_eq!(app.analyzer, "redis");
    assert_writable(
        &app,
        &["/srv/redis-data", "/run/redis-own", "/run/redis-sock"],
    );
}

#[test]
fn postgresql_logs_stats_pid_and_sockets() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/lib/postgresql/15/bin/postgres");
    write(
        r,
        "/srv/pg/postgresql.conf",
        "unix_socket_directories = '/run/pg-sock'\nexternal_pid_file = '/run/pg-pid/pg.pid'\n\
         logging_collector = on\nlog_directory = '/var/log/pg-own'\n\
         stats_temp_directory = '/run/pg-stats'\n",
    );
    write(r, "/srv/pg/PG_VERSION", "15\n");
    let app = plan_of(
        r,
        json!({ "comm": "postgres", "exe": "/usr/lib/postgresql/15/bin/postgres",
                "cmdline": ["/usr/lib/postgresql/15/bin/postgres", "-D", "/srv/pg"], "cwd": "/srv/pg" }),
        5432,
    );
    assert_eq!(app.analyzer, "postgresql");
    assert_writable(
        &app,
        &[
            "/srv/pg",
            "/run/pg-sock",
            "/run/pg-pid",
            "/var/log/pg-own",
            "/run/pg-stats",
        ],
    );
}

#[test]
fn apache_pid_sockets_locks_and_caches() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/sbin/apache2");
    write(r, "/etc/apache2/mime.types", "text/html html\n");
    write(
        r,
        "/etc/apache2/apache2.conf",
        "ServerRoot /etc/apache2\nListen 8081\nPidFile /run/ap-pid/apache2.pid\n\
         DefaultRuntimeDir /run/ap-runtime\nMutex file:/var/lock/ap-mutex default\n\
         ScriptSock /run/ap-cgid/cgisock\nDavLockDB /var/lib/ap-dav/lockdb\n\
         CoreDumpDirectory /var/crash/ap\nSSLSessionCache shmcb:/var/cache/ap-ssl/scache(512000)\n\
         CacheRoot /var/cache/ap-disk\nErrorLog /var/log/ap/error.log\n",
    );
    let app = plan_of(
        r,
        json!({ "comm": "apache2", "exe": "/usr/sbin/apache2",
                "cmdline": ["/usr/sbin/apache2", "-k", "start"], "cwd": "/" }),
        8081,
    );
    assert_eq!(app.analyzer, "apache");
    assert_writable(
        &app,
        &[
            "/run/ap-pid",
            "/run/ap-runtime",
            "/var/lock/ap-mutex",
            "/run/ap-cgid",
            "/var/lib/ap-dav",
            "/var/crash/ap",
            "/var/cache/ap-ssl",
            "/var/cache/ap-disk",
        ],
    );
}

#[test]
fn gunicorn_worker_tmp_dir_and_unix_socket() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/bin/python3.11");
    write(
        r,
        "/usr/bin/gunicorn",
        "#!/usr/bin/python3\nfrom gunicorn.app.wsgiapp import run\nrun()\n",
    );
    write(
        r,
        "/srv/app/app.py",
        "def app(environ, start_response):\n    pass\n",
    );
    write(
        r,
        "/srv/app/gunicorn.conf.py",
        "pidfile = '/run/gunicorn-pid/app.pid'\n",
    );
    let app = plan_of(
        r,
        json!({ "comm": "gunicorn", "exe": "/usr/bin/python3.11",
                "cmdline": ["/usr/bin/python3", "/usr/bin/gunicorn", "--worker-tmp-dir", "/run/gunicorn-tmp",
                            "--bind", "unix:/run/gunicorn-sock/app.sock", "--bind", "127.0.0.1:8000",
                            "-c", "/srv/app/gunicorn.conf.py", "app:app"],
                "cwd": "/srv/app" }),
        8000,
    );
    assert_eq!(app.analyzer, "gunicorn");
    assert_writable(
        &app,
        &[
            "/run/gunicorn-tmp",
            "/run/gunicorn-sock",
            "/run/gunicorn-pid",
        ],
    );
}

#[test]
fn tomcat_access_logs_juli_logs_and_work_dirs() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    exe(r, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java");
    write(
        r,
        "/srv/tomcat/conf/server.xml",
        r#"<Server port="-1"><Service name="Catalina"><Connector port="8082"/>
<Engine name="Catalina" defaultHost="localhost">
<Host name="localhost" appBase="webapps" workDir="/var/cache/tc-work">
<Valve className="org.apache.catalina.valves.AccessLogValve" directory="/var/log/tc-access" prefix="a"/>
</Host></Engine></Service></Server>"#,
    );
    write(
        r,
        "/srv/tomcat/conf/logging.properties",
        "handlers = 1catalina.org.apache.juli.AsyncFileHandler\n\
         1catalina.org.apache.juli.AsyncFileHandler.directory = /var/log/tc-juli\n",
    );
    let app = plan_of(
        r,
        json!({ "comm": "java", "exe": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                "cmdline": ["/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                            "-Dcatalina.base=/srv/tomcat", "-Dcatalina.home=/srv/tomcat",
                            "-Djava.io.tmpdir=/srv/tomcat/temp",
                            "org.apache.catalina.startup.Bootstrap", "start"],
                "cwd": "/srv/tomcat" }),
        8082,
    );
    assert_eq!(app.analyzer, "tomcat");
    assert_writable(
        &app,
        &[
            "/srv/tomcat/work",
            "/srv/tomcat/temp",
            "/srv/tomcat/logs",
            "/var/cache/tc-work",
            "/var/log/tc-access",
            "/var/log/tc-juli",
        ],
    );
}
