//! PHP's built-in server (`php -S addr -t docroot`): the docroot on the command line (cause 1)
//! and a library the page `require`s (cause 4).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "php",
    ("/usr/bin/php", "php-cli"),
    "1 (-t docroot), 4 (require of its own library)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let app = dir.join("phpapp");
    write(
        &app.join("www/index.php"),
        "<?php\nrequire __DIR__ . '/../lib/greet.php';\necho greet('php -S'), \"\\n\";\n",
    )?;
    write(
        &app.join("lib/greet.php"),
        "<?php\nfunction greet($who) { return \"hello from $who and its own library\"; }\n",
    )?;
    super::spawn_background(
        "php",
        daemon_command("/usr/bin/php")
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-t")
            .arg(app.join("www")),
        &dir.join("php.log"),
    )?;
    super::started("php", port, probe, &dir.join("php.log"))
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
