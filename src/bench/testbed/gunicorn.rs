//! A Flask application under gunicorn as a legacy init script starts it: `--daemon`, a pid file,
//! the app found by `--chdir`, a module of its own beside it.

use super::{daemon_command, run, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service {
    name: "gunicorn",
    needs: ("/usr/bin/gunicorn", "gunicorn python3-flask"),
    covers: "analyzed stack (--daemon, --chdir app, a module of its own)",
    analyzed: true,
    init_script: false,
    start,
};

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let app = dir.join("app");
    write(
        &app.join("app.py"),
        "from flask import Flask\nfrom greeting import text\n\napp = Flask(__name__)\n\n\n\
         @app.route(\"/\")\ndef index():\n    return text() + \"\\n\"\n",
    )?;
    write(
        &app.join("greeting.py"),
        "def text():\n    return \"hello from a flask app under gunicorn\"\n",
    )?;
    let log = dir.join("gunicorn.log");
    run(
        "gunicorn",
        daemon_command("/usr/bin/gunicorn")
            .args(["--daemon", "--workers", "1", "--bind"])
            .arg(format!("0.0.0.0:{port}"))
            .arg("--pid")
            .arg(dir.join("gunicorn.pid"))
            .arg("--error-logfile")
            .arg(&log)
            .arg("--chdir")
            .arg(&app)
            .arg("app:app")
            .current_dir("/"),
    )?;
    super::started("gunicorn", port, probe, &log)
}

fn probe(port: u16) -> Result<String, String> {
    super::http_get(port, "/")
}
