//! Where a lifted app's logs go: to the engine (its analyzer links each log file to
//! `/dev/stdout` or `/dev/stderr`, so `podman logs` and `kubectl logs` show them), or to files
//! as on the host, in a volume of their own.
//!
//! Only logs sent by a link are routed: an analyzer that points its program at stdout by an
//! option instead (redis's `--logfile ""`: a program running as its own user may not open the
//! engine's pipe by path) keeps doing so.
//!
//! The engine's way is the container convention, and it has a price: every line crosses a pipe
//! to the engine's monitor (podman's conmon, containerd's shim), a wake-up and a copy per line;
//! for nginx's access log that is a line per request, some 40% of its throughput on one CPU
//! (`liftkit bench parity`). Files cost what they cost on the host.

use super::{AppPlan, Volume, VolumeKind, Write};
use crate::findings::Finding;
use crate::harden::placement;
use std::path::Path;

/// The choice, for `--logs` and the wizard's `app.<name>.logs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Route {
    /// Each log a link to the engine's stdout or stderr (the container convention).
    #[default]
    Engine,
    /// Each log a file, as on the host, in a volume kept across restarts.
    Files,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Engine => "engine",
            Route::Files => "files",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        match s {
            "engine" => Some(Route::Engine),
            "files" => Some(Route::Files),
            _ => None,
        }
    }

    /// What each choice means, for `--help` and the wizard.
    pub fn describe(self) -> &'static str {
        match self {
            Route::Engine => {
                "to the engine (podman logs, kubectl logs): a pipe and a copy per line"
            }
            Route::Files => "to files as on the host, in a volume kept across restarts",
        }
    }
}

/// Whether a link sends a log to the engine.
pub fn is_engine_log(target: &str) -> bool {
    target == "/dev/stdout" || target == "/dev/stderr"
}

/// The app's logs sent to the engine, as paths.
pub fn engine_logs(app: &AppPlan) -> Vec<&str> {
    app.links
        .iter()
        .filter(|l| is_engine_log(&l.target))
        .map(|l| l.path.as_str())
        .collect()
}

/// Routes the app's logs. `Files` turns each link to the engine into a file again, and gives
/// its directory a volume (kept: logs are the run's record; never copied from the host, whose
/// old logs are not the image's). A log whose directory may not be a volume (`/var/log`
/// itself, shared by every program) stays with the engine, and a finding says why. `Engine`
/// leaves the plan as analyzed. Returns whether any log was routed anew.
pub fn route(app: &mut AppPlan, route: Route) -> bool {
    if route == Route::Engine {
        return false;
    }
    let logs: Vec<String> = engine_logs(app).into_iter().map(String::from).collect();
    let mut dirs: Vec<(String, Vec<String>)> = Vec::new();
    for log in logs {
        let dir = Path::new(&log)
            .parent()
            .map_or_else(|| "/".to_string(), |p| p.to_string_lossy().into_owned());
        if placement::system_dir(&dir) {
            app.findings.push(Finding::info(
                &log,
                format!(
                    "--logs files: this log stays sent to the engine: its directory {dir} is \
                     shared by the whole system, and no volume may cover it (point the app at a \
                     directory of its own for its logs)"
                ),
            ));
            continue;
        }
        app.links.retain(|l| l.path != log);
        match dirs.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, logs)) => logs.push(log),
            None => dirs.push((dir, vec![log])),
        }
    }
    let routed = !dirs.is_empty();
    // Judged once every link is gone: a log link is no file of the image to keep visible.
    for (dir, logs) in dirs {
        if placement::placement(app, &dir).is_some() {
            continue;
        }
        let seeded = placement::image_has_below(app, &dir);
        let why = format!(
            "--logs files: the app writes its logs here ({}), as on the host; a volume, kept, \
             not copied from the host{}",
            logs.join(", "),
            if seeded {
                " (seeded with the image's own files there)"
            } else {
                ""
            }
        );
        app.volumes.push(Volume {
            path: dir.clone(),
            kind: VolumeKind::Volume,
            populate: seeded,
            populate_with: seeded.then(|| placement::SEED_FROM_IMAGE.to_string()),
            live_writes: None,
            scratch: false,
            why: why.clone(),
        });
        app.hardening.writes.push(Write {
            path: dir,
            why,
            tolerated: false,
        });
    }
    app.volumes.sort_by(|a, b| a.path.cmp(&b.path));
    app.hardening.writes.sort();
    app.hardening.writes.dedup_by(|a, b| a.path == b.path);
    routed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Link;

    fn nginx() -> AppPlan {
        let yaml = include_str!("../../samples/nginx/plan.golden.yaml");
        let mut plan = crate::plan::parse(Path::new("plan.yaml"), yaml).unwrap();
        plan.apps.remove(0)
    }

    #[test]
    fn files_turn_each_engine_link_into_a_kept_volume_for_its_directory() {
        let mut app = nginx();
        assert_eq!(
            engine_logs(&app),
            ["/var/log/nginx/access.log", "/var/log/nginx/error.log"]
        );
        route(&mut app, Route::Files);
        assert!(engine_logs(&app).is_empty(), "{:?}", app.links);
        let logs: Vec<&Volume> = app
            .volumes
            .iter()
            .filter(|v| v.path == "/var/log/nginx")
            .collect();
        assert_eq!(logs.len(), 1, "one volume for both logs: {:?}", app.volumes);
        assert_eq!(logs[0].kind, VolumeKind::Volume);
        assert!(!logs[0].populate, "the host's old logs are not copied");
        assert!(logs[0].why.contains("--logs files"));
        // The build's check of the read-only root knows the app writes there.
        assert!(app
            .hardening
            .writes
            .iter()
            .any(|w| w.path == "/var/log/nginx"));
        assert!(placement::unplaced(&app).is_empty());
    }

    #[test]
    fn a_log_in_the_shared_log_directory_stays_with_the_engine_and_says_why() {
        let mut app = nginx();
        app.links = vec![Link {
            path: "/var/log/app.log".into(),
            target: "/dev/stdout".into(),
            why: "test".into(),
        }];
        let volumes = app.volumes.len();
        route(&mut app, Route::Files);
        assert_eq!(engine_logs(&app), ["/var/log/app.log"]);
        assert_eq!(app.volumes.len(), volumes);
        let f = app.findings.last().unwrap();
        assert_eq!(f.subject, "/var/log/app.log");
        assert!(f.message.contains("/var/log is shared"), "{}", f.message);
    }

    #[test]
    fn engine_leaves_the_plan_as_analyzed() {
        let mut app = nginx();
        let before = app.clone();
        route(&mut app, Route::Engine);
        assert_eq!(app, before);
        assert_eq!(Route::parse(Route::Files.name()), Some(Route::Files));
        assert_eq!(Route::parse("syslog"), None);
    }
}
