//! The question model: what is asked, how it may be answered, and what an answer is.
//!
//! Ids are stable (`apps.select`, `app.nginx.ports`): they key the answers file, so a run can be
//! replayed on the next server. A choice is answered by its key, never its position, for the
//! same reason.

use std::fmt;
use std::sync::Arc;

/// Checks a typed answer; `Err` carries the reason shown to the person (or named on replay).
pub type Validator = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
pub struct Question {
    pub id: String,
    pub prompt: String,
    pub kind: Kind,
    /// `None`: the question must be answered (replay fails naming the id when it is not).
    pub default: Option<Answer>,
    /// Navigation (expanding a list to look at it) changes nothing and is not saved.
    pub record: bool,
}

#[derive(Clone)]
pub enum Kind {
    Confirm,
    Text { validate: Option<Validator> },
    Select { choices: Vec<Choice> },
    MultiSelect { choices: Vec<Choice>, min: usize },
}

/// One option of a select: `key` is what the answers file holds, `label` what a person reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Choice {
    pub key: String,
    pub label: String,
    /// Other keys that name this option on a host that names it differently (`nginx` where
    /// it was `nginx-8080` because a second nginx ran); accepted when they name one option only.
    pub aliases: Vec<String>,
}

impl Choice {
    pub fn new(key: impl Into<String>, label: impl Into<String>) -> Self {
        Choice {
            key: key.into(),
            label: label.into(),
            aliases: Vec::new(),
        }
    }
}

/// The option `key` names: its own key first, else the one option that has it as an alias.
pub fn find_choice<'c>(choices: &'c [Choice], key: &str) -> Result<&'c Choice, String> {
    if let Some(c) = choices.iter().find(|c| c.key == key) {
        return Ok(c);
    }
    let by_alias: Vec<&Choice> = choices
        .iter()
        .filter(|c| c.aliases.iter().any(|a| a == key))
        .collect();
    match by_alias.as_slice() {
        [one] => Ok(one),
        [] => {
            let keys: Vec<&str> = choices.iter().map(|c| c.key.as_str()).collect();
            Err(format!(
                "{key:?} is not among the options on this host (found: {})",
                if keys.is_empty() {
                    "nothing".to_string()
                } else {
                    keys.join(", ")
                }
            ))
        }
        several => {
            let keys: Vec<&str> = several.iter().map(|c| c.key.as_str()).collect();
            Err(format!(
                "{key:?} could be any of {} here: name one",
                keys.join(", ")
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Bool(bool),
    /// A typed text, or the key of the chosen option of a select.
    Text(String),
    /// The keys of the chosen options of a multi-select.
    Many(Vec<String>),
}

impl Question {
    pub fn confirm(id: impl Into<String>, prompt: impl Into<String>, default: bool) -> Self {
        Question {
            id: id.into(),
            prompt: prompt.into(),
            kind: Kind::Confirm,
            default: Some(Answer::Bool(default)),
            record: true,
        }
    }

    pub fn text(
        id: impl Into<String>,
        prompt: impl Into<String>,
        default: impl Into<String>,
        validate: Option<Validator>,
    ) -> Self {
        Question {
            id: id.into(),
            prompt: prompt.into(),
            kind: Kind::Text { validate },
            default: Some(Answer::Text(default.into())),
            record: true,
        }
    }

    pub fn select(
        id: impl Into<String>,
        prompt: impl Into<String>,
        choices: Vec<Choice>,
        default: &str,
    ) -> Self {
        Question {
            id: id.into(),
            prompt: prompt.into(),
            kind: Kind::Select { choices },
            default: Some(Answer::Text(default.to_string())),
            record: true,
        }
    }

    /// A multi-select that needs at least `min` options chosen and has no default: a person
    /// picks, and a replay must say.
    pub fn multi_select(
        id: impl Into<String>,
        prompt: impl Into<String>,
        choices: Vec<Choice>,
        min: usize,
    ) -> Self {
        Question {
            id: id.into(),
            prompt: prompt.into(),
            kind: Kind::MultiSelect { choices, min },
            default: None,
            record: true,
        }
    }

    pub fn not_recorded(mut self) -> Self {
        self.record = false;
        self
    }

    /// Whether `answer` is acceptable for this question; `Err` says why, for the person or the
    /// replay's error line.
    pub fn check(&self, answer: &Answer) -> Result<(), String> {
        match (&self.kind, answer) {
            (Kind::Confirm, Answer::Bool(_)) => Ok(()),
            (Kind::Confirm, _) => Err("expected true or false".to_string()),
            (Kind::Text { validate }, Answer::Text(t)) => {
                validate.as_ref().map_or(Ok(()), |v| v(t))
            }
            (Kind::Text { .. }, _) => Err("expected a text".to_string()),
            (Kind::Select { choices }, Answer::Text(key)) => known(choices, key),
            (Kind::Select { .. }, _) => Err("expected one option".to_string()),
            (Kind::MultiSelect { choices, min }, Answer::Many(keys)) => {
                keys.iter().try_for_each(|k| known(choices, k))?;
                if keys.len() < *min {
                    return Err(format!("choose at least {min}"));
                }
                Ok(())
            }
            (Kind::MultiSelect { .. }, _) => Err("expected a list of options".to_string()),
        }
    }
}

fn known(choices: &[Choice], key: &str) -> Result<(), String> {
    find_choice(choices, key).map(|_| ())
}

impl Answer {
    pub fn as_bool(&self) -> bool {
        matches!(self, Answer::Bool(true))
    }

    pub fn as_text(&self) -> &str {
        match self {
            Answer::Text(t) => t,
            _ => "",
        }
    }

    pub fn as_many(&self) -> &[String] {
        match self {
            Answer::Many(v) => v,
            _ => &[],
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Bool(b) => write!(f, "{}", if *b { "yes" } else { "no" }),
            Answer::Text(t) => write!(f, "{t}"),
            Answer::Many(v) => write!(f, "{}", v.join(", ")),
        }
    }
}

impl fmt::Debug for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Question")
            .field("id", &self.id)
            .field("prompt", &self.prompt)
            .field("default", &self.default)
            .finish()
    }
}
