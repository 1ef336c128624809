//! A node app run from its directory (`node server.js`: the script is relative to the cwd),
//! with a `require('./lib/…')` module and a `config.json` beside it (cause 4).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "node",
    ("/usr/bin/node", "nodejs"),
    "4 (relative script, require('./lib'), config.json)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let app = dir.join("app");
    write(
        &app.join("server.js"),
        "const http = require('http');\nconst greet = require('./lib/greet');\n\
         const config = require('./config.json');\n\
         http.createServer((req, res) => {\n  res.setHeader('Content-Type', 'text/plain');\n  \
         res.end(greet(config.name) + '\\n');\n}).listen(config.port, '127.0.0.1');\n",
    )?;
    write(
        &app.join("lib/greet.js"),
        "module.exports = (name) => `hello from ${name}, a node module`;\n",
    )?;
    write(
        &app.join("config.json"),
        &format!("{{ \"name\": \"the corpus node app\", \"port\": {port} }}\n"),
    )?;
    super::spawn_background(
        "node",
        daemon_command("/usr/bin/node")
            .arg("server.js")
            .current_dir(&app),
        &dir.join("node.log"),
    )?;
    super::started("node", port, probe, &dir.join("node.log"))
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
