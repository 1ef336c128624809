//! An acceptance test as the scope file holds it: what is done (one of `http`, `tcp`, `send`,
//! `command`) and what it must give; checked before it is agreed, described for the statement
//! of work.

use crate::plan::Probe;
use crate::verify::probe;
use serde::{Deserialize, Serialize};

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

    /// The trial run's own probe as a test, for an app no analyzer knows: it must answer, and
    /// as the original does.
    pub fn from_trial(p: &Probe) -> Test {
        Test {
            from: Origin::Trial,
            ..Test::from_probe(p)
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

    /// The probe that does what the test asks (None for a command).
    pub(super) fn probe(&self) -> Option<Probe> {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `GET /` named "home", with the status it expects (the judges' tests share it).
    pub(crate) fn http(status: Option<u16>) -> Test {
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
}
