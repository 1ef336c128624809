//! Problems that must not stop a run on a real host: kept in the model, shown in the report and
//! summarized at exit.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub level: Level,
    /// What the finding is about: a path, `pid 123`, an analyzer id.
    pub subject: String,
    pub message: String,
}

impl Finding {
    pub fn new(level: Level, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            level,
            subject: subject.into(),
            message: message.into(),
        }
    }

    pub fn info(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Info, subject, message)
    }

    pub fn warning(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, subject, message)
    }

    pub fn error(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Error, subject, message)
    }
}

/// What starts the message of a finding about a value liftkit assumed rather than saw: the
/// report files it under "guessed", the wizard's review lists it.
pub const GUESSED: &str = "guessed ";

pub fn guessed(message: impl Into<String>) -> String {
    format!("{GUESSED}{}", message.into())
}

impl Finding {
    /// A value liftkit assumed rather than saw.
    pub fn is_guess(&self) -> bool {
        self.message.starts_with(GUESSED)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.level, self.subject, self.message)
    }
}
