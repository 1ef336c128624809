//! `--logs`: where the lifted apps' logs go (see `liftkit::plan::logs`).

use liftkit::plan::logs::{self, Route};
use liftkit::plan::Plan;

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// Where each app's logs go: `engine` links every log file its analyzer names to stdout or
    /// stderr, for `podman logs` and `kubectl logs` (a pipe and a copy per line: on one CPU,
    /// nginx's access log costs it some 40% of its throughput); `files` keeps them files, as on
    /// the host, in a volume of their own.
    #[arg(long, value_name = "WHERE", default_value = "engine", value_parser = parse)]
    pub logs: Route,
}

fn parse(s: &str) -> Result<Route, String> {
    Route::parse(s).ok_or_else(|| format!("{s:?}: expected `engine` or `files`"))
}

impl LogsArgs {
    pub fn apply(&self, plan: &mut Plan) {
        for app in &mut plan.apps {
            logs::route(app, self.logs);
        }
    }
}
