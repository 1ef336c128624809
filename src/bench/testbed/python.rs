//! A python app started through a version manager's shim: the command line names
//! `…/shims/python3`, a chain of symlinks to the interpreter (cause 7); the app imports a
//! package of its own from its directory (cause 4).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "python",
    ("/usr/bin/python3", "python3"),
    "4 (its own package), 7 (interpreter named through a shim's symlink chain)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let real = std::fs::canonicalize("/usr/bin/python3")
        .map_err(super::io(Path::new("/usr/bin/python3")))?;
    let versions = dir.join("pyenv/versions/3/bin");
    let shims = dir.join("pyenv/shims");
    std::fs::create_dir_all(&versions).map_err(super::io(&versions))?;
    std::fs::create_dir_all(&shims).map_err(super::io(&shims))?;
    let link = |target: &Path, at: &Path| {
        let _ = std::fs::remove_file(at);
        std::os::unix::fs::symlink(target, at).map_err(super::io(at))
    };
    link(&real, &versions.join("python3"))?;
    link(
        Path::new("../versions/3/bin/python3"),
        &shims.join("python3"),
    )?;
    let app = dir.join("pyapp");
    write(
        &app.join("serve.py"),
        "import sys\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n\
         from greeting.words import hello\n\n\
         class Handler(BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = (hello() + '\\n').encode()\n        \
         self.send_response(200)\n        self.send_header('Content-Length', str(len(body)))\n        \
         self.end_headers()\n        self.wfile.write(body)\n\n    def log_message(self, *a):\n        pass\n\n\
         HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()\n",
    )?;
    write(&app.join("greeting/__init__.py"), "")?;
    write(
        &app.join("greeting/words.py"),
        "def hello():\n    return 'hello from a python package of its own'\n",
    )?;
    super::spawn_background(
        "python",
        daemon_command(&shims.join("python3").to_string_lossy())
            .arg("serve.py")
            .arg(port.to_string())
            .current_dir(&app),
        &dir.join("python.log"),
    )?;
    super::started("python", port, probe, &dir.join("python.log"))
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
