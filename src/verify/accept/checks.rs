//! One test against the running app: a probe inside its network namespace (and of the original,
//! when the test compares with it) or a command inside its container, and the judgement of what
//! came back.

use super::{Test, TestResult};
use crate::verify::probe::{self, Outcome};
use crate::verify::sandbox::Sandbox;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub(super) fn result(t: &Test, passed: bool, detail: String) -> TestResult {
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

pub(super) fn probe_test(
    t: &Test,
    pid: i32,
    addrs: &[SocketAddr],
    deadline: Instant,
) -> TestResult {
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

pub(super) fn command_test(
    t: &Test,
    sandbox: &Sandbox,
    argv: &[String],
    timeout: Duration,
) -> TestResult {
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

#[cfg(test)]
mod tests {
    use super::super::definition::tests::http;
    use super::*;

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
