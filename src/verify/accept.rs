//! Acceptance tests: the checks a customer agreed to before the lift, run against the lifted app
//! and recorded with their evidence.
//!
//! A test is one check and what it must give: an HTTP request (status, body digest), a TCP
//! connect, bytes sent and a pattern the answer must match, or a command run inside the lifted
//! container (exit status, a pattern its output must match). A test may also require the answer
//! to be the original's, as verify compares them: the analyzer's probes become such tests.
//!
//! The container runs as verify runs it (run.sh, its own network namespace), once for all of an
//! app's tests. Every outcome is kept, a failure with its evidence as much as a pass; a container
//! that does not start is a recorded failure too, not an error.

use super::sandbox::{Extra, Sandbox, StartError};
use super::{listen_addresses, probe, wait_listening, Engine, VerifyError};
use crate::plan::{AppPlan, Probe};
use probe::Outcome;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where a test came from: the analyzer's probes, the trial run's answers, or the consultant.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Analyzer,
    Trial,
    #[default]
    Consultant,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Analyzer => "analyzer",
            Origin::Trial => "trial",
            Origin::Consultant => "consultant",
        }
    }
}

/// One acceptance test, as the scope file holds it. Exactly one of `http`, `tcp`, `send`,
/// `command` says what is done; the other fields say what it must give.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Test {
    pub name: String,
    #[serde(default)]
    pub from: Origin,
    /// `GET /path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// Connect to the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<bool>,
    /// Bytes sent (escapes `\r\n` allowed); `expect` is the pattern the answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// A command run inside the lifted container (no shell: the image may hold none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The TCP port probed; default the first the app listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// HTTP status expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// SHA-256 (hex) of the HTTP body expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// A regex the answer (`send`) or the output (`command`) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// The command's exit status expected (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// The answer must be the original's wherever the original answers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub same_as_original: bool,
}

impl Test {
    /// The analyzer's probe as a test: it must answer, and as the original does.
    pub fn from_probe(p: &Probe) -> Test {
        Test {
            name: probe::describe(p),
            from: Origin::Analyzer,
            http: p.http.clone(),
            tcp: p.tcp,
            send: p.send.clone(),
            expect: p.expect.clone(),
            same_as_original: true,
            ..Test::default()
        }
    }

    /// Why the test cannot be run as written, if so.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("a test needs a name".to_string());
        }
        let actions = [
            self.http.is_some(),
            self.tcp.is_some(),
            self.send.is_some(),
            self.command.is_some(),
        ];
        if actions.iter().filter(|a| **a).count() != 1 {
            return Err("give exactly one of http, tcp, send, command".to_string());
        }
        if let Some(h) = &self.http {
            let path = h.split_once(' ').map_or(h.as_str(), |(_, p)| p);
            if !path.starts_with('/') {
                return Err(format!("http: {h:?} is not `METHOD /path`"));
            }
        }
        if self.tcp == Some(false) {
            return Err("tcp: false checks nothing; leave the test out".to_string());
        }
        if self.send.is_some() && self.expect.is_none() {
            return Err("send needs expect: the pattern the answer must match".to_string());
        }
        if let Some(c) = &self.command {
            if c.is_empty() || c[0].is_empty() {
                return Err("command: give the program and its arguments".to_string());
            }
            if self.same_as_original {
                return Err("same_as_original: a command runs only in the lifted app".to_string());
            }
        }
        if self.http.is_none() && (self.status.is_some() || self.body_sha256.is_some()) {
            return Err("status and body_sha256 go with http".to_string());
        }
        if self.command.is_none() && self.exit.is_some() {
            return Err("exit goes with command".to_string());
        }
        if self.expect.is_some() && self.send.is_none() && self.command.is_none() {
            return Err("expect goes with send or command".to_string());
        }
        if let Some(d) = &self.body_sha256 {
            if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("body_sha256: {d:?} is not 64 hex digits"));
            }
        }
        if let Some(re) = &self.expect {
            regex::Regex::new(re).map_err(|e| format!("expect: {e}"))?;
        }
        Ok(())
    }

    /// What is done, for the statement of work.
    pub fn action(&self) -> String {
        let port = self
            .port
            .map(|p| format!(" on port {p}"))
            .unwrap_or_default();
        if let Some(h) = &self.http {
            format!("HTTP {h}{port}")
        } else if self.tcp.is_some() {
            format!("TCP connect{port}")
        } else if let Some(s) = &self.send {
            format!("send {s:?}{port}")
        } else if let Some(c) = &self.command {
            format!(
                "run `{}` in the container",
                crate::report::text::shell_join(c)
            )
        } else {
            String::new()
        }
    }

    /// What it must give, for the statement of work.
    pub fn expectation(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if let Some(d) = &self.body_sha256 {
            parts.push(format!("body sha256 {d}"));
        }
        if self.command.is_some() {
            parts.push(format!("exit {}", self.exit.unwrap_or(0)));
        }
        if let Some(e) = &self.expect {
            parts.push(format!("matches /{e}/"));
        }
        if self.same_as_original {
            parts.push("the same answer as the original".to_string());
        }
        if parts.is_empty() {
            parts.push(if self.tcp.is_some() {
                "accepts the connection".to_string()
            } else {
                "answers".to_string()
            });
        }
        parts.join(", ")
    }

    fn probe(&self) -> Option<Probe> {
        if self.command.is_some() {
            return None;
        }
        Some(Probe {
            http: self.http.clone(),
            tcp: self.tcp,
            send: self.send.clone(),
            expect: self
                .send
                .as_ref()
                .map(|_| self.expect.clone().unwrap_or_default()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    /// How long the lifted app may take to listen (and a probe to answer).
    pub timeout: Duration,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandRun {
    pub argv: Vec<String>,
    /// `None` when it did not end on its own (killed at the timeout) or could not be started.
    pub exit: Option<i32>,
    /// Standard output then standard error, the first 4 KiB.
    pub output_head: String,
    pub output_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub from: Origin,
    pub action: String,
    pub expected: String,
    pub passed: bool,
    /// Why it passed or failed, in a sentence.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Outcome>,
    /// The original's answer to the same probe, when it was reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandRun>,
}

/// One app's acceptance run, as `out/<app>/acceptance.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acceptance {
    pub app: String,
    pub image: String,
    /// The app listened on every address it had (or, with none, its container kept running).
    pub ready: bool,
    /// Why the app could not be tested at all (it did not start), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub results: Vec<TestResult>,
    /// Every test passed (and there was at least one).
    pub passed: bool,
    /// Resident memory of the lifted app's processes after its tests, KiB (0: not measured).
    pub rss_kib: u64,
    pub logs_tail: Vec<String>,
}

impl Acceptance {
    pub fn failed_count(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }

    pub fn load(path: &Path) -> Result<Acceptance, VerifyError> {
        let io = |source| VerifyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        serde_json::from_str(&text).map_err(|e| io(std::io::Error::other(e)))
    }
}

pub const FILE: &str = "acceptance.json";

/// Runs `tests` against the app built in `app_dir`, writes `acceptance.json` there and shows the
/// result in its report. An engine that does not run at all is an error (nothing was learned
/// about the app); an app that does not start is a recorded failure.
pub fn run(app_dir: &Path, tests: &[Test], opts: &Options) -> Result<Acceptance, VerifyError> {
    let plan = crate::plan::load(&app_dir.join("plan.yaml"))?;
    let app = plan
        .apps
        .first()
        .ok_or_else(|| VerifyError::Empty(app_dir.join("plan.yaml")))?;
    let container = format!("liftkit-accept-{}-{}", app.slug(), std::process::id());
    let mut acc = match Sandbox::start(&opts.engine, app_dir, &container, &Extra::default(), false)
    {
        Err(StartError::Engine(e)) => return Err(VerifyError::Engine(e)),
        Err(StartError::Refused(why)) => not_started(app, tests, why, Vec::new()),
        Ok(sandbox) => in_container(app, tests, &sandbox, opts),
    };
    acc.passed =
        acc.failure.is_none() && !acc.results.is_empty() && acc.results.iter().all(|r| r.passed);
    let path = app_dir.join(FILE);
    let json = serde_json::to_string_pretty(&acc).map_err(std::io::Error::other);
    json.and_then(|j| crate::fsutil::write_atomic(&path, (j + "\n").as_bytes()))
        .map_err(|source| VerifyError::Io { path, source })?;
    record_in_report(app_dir, &acc);
    Ok(acc)
}

fn not_started(app: &AppPlan, tests: &[Test], why: String, logs: Vec<String>) -> Acceptance {
    Acceptance {
        app: app.name.clone(),
        image: app.image.name.clone(),
        ready: false,
        results: tests
            .iter()
            .map(|t| TestResult {
                name: t.name.clone(),
                from: t.from,
                action: t.action(),
                expected: t.expectation(),
                passed: false,
                detail: format!("not run: {}", last_line(&why)),
                address: None,
                lifted: None,
                original: None,
                command: None,
            })
            .collect(),
        failure: Some(why),
        passed: false,
        rss_kib: 0,
        logs_tail: logs,
    }
}

/// The last line of an engine's message: its error, after the progress it printed.
pub fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

fn in_container(app: &AppPlan, tests: &[Test], sandbox: &Sandbox, opts: &Options) -> Acceptance {
    let pid = match sandbox.pid() {
        Ok(p) => p,
        Err(why) => return not_started(app, tests, why, sandbox.logs_tail(20)),
    };
    let addrs = listen_addresses(app);
    let started = Instant::now();
    let ready = if addrs.is_empty() {
        Ok(true)
    } else {
        crate::os::netns::run_in(pid, || wait_listening(&addrs, opts.timeout, pid))
    };
    let ready = match ready {
        Ok(r) => r,
        Err(e) => {
            let why = format!("cannot enter the container's network: {e}");
            return not_started(app, tests, why, sandbox.logs_tail(20));
        }
    };
    // Exited while it was awaited: nothing to test (a container that runs but does not listen
    // is tested, and its tests fail with what they got).
    if let Err(why) = sandbox.pid() {
        return not_started(app, tests, why, sandbox.logs_tail(20));
    }
    let deadline = started + opts.timeout;
    let results = tests
        .iter()
        .map(|t| match &t.command {
            Some(argv) => command_test(t, sandbox, argv, opts.timeout),
            None => probe_test(t, pid, &addrs, deadline),
        })
        .collect();
    Acceptance {
        app: app.name.clone(),
        image: app.image.name.clone(),
        ready,
        failure: None,
        results,
        passed: false,
        rss_kib: tree_rss_kib(pid),
        logs_tail: sandbox.logs_tail(20),
    }
}

fn result(t: &Test, passed: bool, detail: String) -> TestResult {
    TestResult {
        name: t.name.clone(),
        from: t.from,
        action: t.action(),
        expected: t.expectation(),
        passed,
        detail,
        address: None,
        lifted: None,
        original: None,
        command: None,
    }
}

fn probe_test(t: &Test, pid: i32, addrs: &[SocketAddr], deadline: Instant) -> TestResult {
    let addr = match t.port {
        Some(port) => addrs.iter().find(|a| a.port() == port).copied(),
        None => addrs.first().copied(),
    };
    let (Some(addr), Some(p)) = (addr, t.probe()) else {
        let why = match t.port {
            Some(port) => format!("the app does not listen on port {port}"),
            None => "the app listens on no TCP address".to_string(),
        };
        return result(t, false, why);
    };
    let lifted = crate::os::netns::run_in(pid, || probe::run_until_ok(&p, addr, deadline))
        .unwrap_or_else(|e| Outcome::Failed(e.to_string()));
    // The check's connection is closed before the probe (a single-threaded server would serve
    // it first), and the original is asked only when the test compares with it.
    let original = (t.same_as_original
        && TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
    .then(|| probe::run(&p, addr));
    let (passed, detail) = judge(t, &lifted, original.as_ref());
    TestResult {
        address: Some(addr.to_string()),
        lifted: Some(lifted),
        original,
        ..result(t, passed, detail)
    }
}

/// Whether an answer is what the test asks for, and why in a sentence.
pub fn judge(t: &Test, lifted: &Outcome, original: Option<&Outcome>) -> (bool, String) {
    let mut wrong = Vec::new();
    match lifted {
        Outcome::Failed(e) => return (false, format!("no answer: {e}")),
        Outcome::Http {
            status,
            body_sha256,
            ..
        } => {
            if let Some(want) = t.status.filter(|w| w != status) {
                wrong.push(format!("status {status}, expected {want}"));
            }
            if let Some(want) = t
                .body_sha256
                .as_ref()
                .filter(|w| !w.eq_ignore_ascii_case(body_sha256))
            {
                wrong.push(format!("body sha256 {body_sha256}, expected {want}"));
            }
        }
        Outcome::Matched {
            matched,
            answer_head,
        } => {
            if !matched {
                wrong.push(format!(
                    "the answer {:?} does not match /{}/",
                    answer_head.trim_end(),
                    t.expect.as_deref().unwrap_or_default()
                ));
            }
        }
        Outcome::Connected => {}
    }
    let compared = match (t.same_as_original, original) {
        (false, _) => "",
        (true, None) => "; the original was not reachable, so it was checked on its own",
        (true, Some(o)) if o == lifted => "; the same as the original",
        (true, Some(o)) => {
            wrong.push(format!("differs from the original, which gave {o}"));
            ""
        }
    };
    if wrong.is_empty() {
        (true, format!("{lifted}{compared}"))
    } else {
        (false, format!("{lifted}: {}", wrong.join("; ")))
    }
}

fn command_test(t: &Test, sandbox: &Sandbox, argv: &[String], timeout: Duration) -> TestResult {
    let run = sandbox.engine.exec(&sandbox.name, argv, timeout);
    let want_exit = t.exit.unwrap_or(0);
    let mut wrong = Vec::new();
    match run.exit {
        Some(code) if code == want_exit => {}
        Some(code) => wrong.push(format!("exit {code}, expected {want_exit}")),
        None => wrong.push("it did not finish".to_string()),
    }
    if let Some(re) = &t.expect {
        let matched = regex::Regex::new(re).is_ok_and(|r| r.is_match(&run.output_head));
        if !matched {
            wrong.push(format!("the output does not match /{re}/"));
        }
    }
    let first_line = run
        .output_head
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let detail = if wrong.is_empty() {
        format!("exit {want_exit}: {first_line:?}")
    } else {
        format!("{}; output: {first_line:?}", wrong.join("; "))
    };
    TestResult {
        command: Some(run),
        ..result(t, wrong.is_empty(), detail)
    }
}

/// The resident memory of a process and its descendants on this machine, KiB: the lifted app's
/// processes, seen from the engine's side.
fn tree_rss_kib(root: i32) -> u64 {
    let Ok(all) = procfs::process::all_processes() else {
        return 0;
    };
    let mut parent = std::collections::HashMap::new();
    let mut rss = std::collections::HashMap::new();
    for p in all.flatten() {
        if let (Ok(stat), Ok(status)) = (p.stat(), p.status()) {
            parent.insert(stat.pid, stat.ppid);
            rss.insert(stat.pid, status.vmrss.unwrap_or(0));
        }
    }
    let in_tree = |mut pid: i32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parent.get(&pid) {
                Some(&pp) if pp > 0 => pid = pp,
                _ => return false,
            }
        }
        false
    };
    rss.iter()
        .filter(|(pid, _)| in_tree(**pid))
        .map(|(_, kib)| kib)
        .sum()
}

/// The report beside the image shows the acceptance result, test by test.
fn record_in_report(app_dir: &Path, acc: &Acceptance) {
    let mut checks: Vec<crate::report::VerifyCheck> = acc
        .results
        .iter()
        .map(|r| crate::report::VerifyCheck {
            name: format!("{} ({}): {}", r.name, r.from.as_str(), r.action),
            passed: r.passed,
            detail: r.detail.clone(),
        })
        .collect();
    if let Some(why) = &acc.failure {
        checks.insert(
            0,
            crate::report::VerifyCheck {
                name: "start".to_string(),
                passed: false,
                detail: why.clone(),
            },
        );
    }
    let failed = acc.failed_count();
    let summary = crate::report::VerifySummary {
        passed: acc.passed,
        summary: if acc.passed {
            format!("acceptance: all {} tests passed", acc.results.len())
        } else {
            format!("acceptance: {failed} of {} tests failed", acc.results.len())
        },
        checks,
    };
    let _ = crate::report::set_verify(app_dir, summary);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: Option<u16>) -> Test {
        Test {
            name: "home".into(),
            http: Some("GET /".into()),
            status,
            ..Test::default()
        }
    }

    #[test]
    fn a_test_names_one_action_and_expectations_that_fit_it() {
        assert!(http(Some(200)).check().is_ok());
        let both = Test {
            tcp: Some(true),
            ..http(None)
        };
        assert!(both.check().unwrap_err().contains("exactly one"));
        let send = Test {
            name: "ping".into(),
            send: Some("PING\r\n".into()),
            ..Test::default()
        };
        assert!(send.check().unwrap_err().contains("needs expect"));
        let bad_digest = Test {
            body_sha256: Some("abc".into()),
            ..http(None)
        };
        assert!(bad_digest.check().unwrap_err().contains("64 hex"));
        let status_on_tcp = Test {
            name: "t".into(),
            tcp: Some(true),
            status: Some(200),
            ..Test::default()
        };
        assert!(status_on_tcp.check().is_err());
        let cmd = Test {
            name: "v".into(),
            command: Some(vec!["redis-server".into(), "--version".into()]),
            expect: Some("v=(".into()),
            ..Test::default()
        };
        assert!(cmd.check().unwrap_err().starts_with("expect:"));
    }

    #[test]
    fn judging_names_every_way_an_answer_is_wrong() {
        let got = Outcome::Http {
            status: 404,
            body_sha256: "ab".repeat(32),
            body_bytes: 10,
        };
        let (ok, why) = judge(&http(Some(200)), &got, None);
        assert!(!ok);
        assert!(why.contains("status 404, expected 200"), "{why}");
        let (ok, _) = judge(&http(Some(404)), &got, None);
        assert!(ok);
        let same = Test {
            same_as_original: true,
            ..http(None)
        };
        let other = Outcome::Http {
            status: 200,
            body_sha256: "cd".repeat(32),
            body_bytes: 10,
        };
        let (ok, why) = judge(&same, &got, Some(&other));
        assert!(!ok && why.contains("differs from the original"), "{why}");
        let (ok, why) = judge(&same, &got, None);
        assert!(ok && why.contains("not reachable"), "{why}");
        let (ok, _) = judge(&same, &Outcome::Failed("refused".into()), None);
        assert!(!ok);
    }
}
