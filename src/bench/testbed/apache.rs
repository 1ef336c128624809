//! Apache httpd with mod_php the way hosting setups keep it: its own server root outside
//! /etc/apache2 (`apache2 -d DIR -f httpd.conf -k start`, daemonized), the docroot from the
//! environment, Debian's PHP ini files loading mbstring. The page answers only with mbstring.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service {
    name: "apache",
    needs: (
        "/usr/sbin/apache2",
        "apache2 libapache2-mod-php php-mbstring",
    ),
    covers: "analyzed stack (server root on -d, config on -f, docroot from the environment, \
             PHP extensions by ini)",
    analyzed: true,
    init_script: false,
    start,
};

const SAMPLE: &[(&str, &str)] = &[
    (
        "httpd.conf",
        include_str!("../../../samples/apache-php/httpd.conf"),
    ),
    (
        "conf.d/php.conf",
        include_str!("../../../samples/apache-php/conf.d/php.conf"),
    ),
    (
        "www/index.php",
        include_str!("../../../samples/apache-php/www/index.php"),
    ),
];

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    for (rel, text) in SAMPLE {
        write(&dir.join(rel), &text.replace("@PORT@", &port.to_string()))?;
    }
    for sub in ["run", "logs"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(super::io(&d))?;
    }
    run(
        "apache",
        daemon_command("/usr/sbin/apache2")
            .env("SITE_ROOT", dir.join("www"))
            .arg("-d")
            .arg(dir)
            .args(["-f", "httpd.conf", "-k", "start"]),
    )?;
    super::started("apache", port, probe, &dir.join("logs/error.log"))
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/index.php")
}
