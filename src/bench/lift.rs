//! `liftkit bench lift`: `liftkit lift` of the testbed's nginx and redis (started legacy-style)
//! without the trial run (which runs the image in an engine, not liftkit's work): wall time and
//! peak memory, median of several runs.

use super::measure::{self, Measured};
use super::testbed::{self, Running};
use super::{io, BenchError};
use serde::Serialize;
use std::path::Path;
use std::process::Command;

pub struct Options {
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub app: String,
    pub lift: Measured,
}

type Starter = fn(&Path, u16) -> Result<Running, testbed::TestbedError>;
const APPS: &[(&str, Starter)] = &[
    ("nginx", testbed::nginx::start),
    ("redis", testbed::redis::start),
];

pub fn measure(opts: &Options, work: &Path, liftkit: &Path) -> Result<Vec<Row>, BenchError> {
    super::require(&["nginx", "redis-server"], "nginx-light redis-server")?;
    let mut rows = Vec::new();
    for (app, start) in APPS {
        let dir = work.join(app);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        testbed::set_mode(&dir, 0o755)?;
        let running = start(&dir, testbed::free_port())?;
        let out = dir.join("out");
        // Exit 1 is a lift that finished with error-level findings: lifted all the same.
        let (_, lift) = measure::repeat(opts.runs, &[0, 1], || {
            let mut c = Command::new(liftkit);
            c.args(["lift", "--pid", &running.pid.to_string()])
                .args(["--no-trial", "--force", "--priority", "normal", "-o"])
                .arg(&out);
            c
        })?;
        drop(running);
        rows.push(Row {
            app: app.to_string(),
            lift,
        });
    }
    Ok(rows)
}
