//! Legacy daemons started the way an old init script starts them: daemonized, own config file,
//! a clean environment. For tests that need real applications to report on.

#![allow(dead_code)]

use crate::common::*;
use std::path::Path;
use std::time::Duration;

pub fn start_nginx(dir: &Path, port: u16) -> Daemon {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("index.html"),
        format!("<h1>legacy app on {port}</h1>\n"),
    )
    .unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/access.log;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(daemon_command("/usr/sbin/nginx").arg("-c").arg(&conf));
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "nginx did not start"
    );
    Daemon {
        pid_file: dir.join("nginx.pid"),
    }
}

pub fn start_redis(dir: &Path, port: u16) -> Daemon {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "bind 127.0.0.1\nport {port}\ndaemonize yes\ndir {d}/data\ndbfilename dump.rdb\n\
             pidfile {d}/redis.pid\nlogfile {d}/redis.log\nsave \"\"\nprotected-mode yes\n",
            d = dir.display()
        ),
    )
    .unwrap();
    run_ok(
        daemon_command("/usr/bin/redis-server")
            .arg(&conf)
            .current_dir("/"),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(10)),
        "redis did not start"
    );
    Daemon {
        pid_file: dir.join("redis.pid"),
    }
}
