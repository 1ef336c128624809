//! The answers file: every recorded answer by question id, in the order asked, as YAML a person
//! can read and edit.
//!
//! ```yaml
//! schema: 1
//! recorded_on: web01
//! answers:
//!   apps.select: [nginx]
//!   app.nginx.ports: 80/tcp
//! ```

use super::question::Answer;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    /// The host the answers were given on, for the reader.
    pub recorded_on: String,
    entries: Vec<(String, Answer)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid answers file: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: answers schema {found} is not supported (this liftkit reads schema {SCHEMA_VERSION})"
    )]
    Schema { path: PathBuf, found: u32 },
    #[error("{path}: {id}: {message}")]
    Value {
        path: PathBuf,
        id: String,
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema: u32,
    #[serde(default)]
    recorded_on: String,
    #[serde(default)]
    answers: Mapping,
}

const HEADER: &str = "\
# liftkit wizard answers: replay with `liftkit lift --answers FILE -o DIR` (no terminal needed),
# or start `liftkit wizard --answers FILE` with them as defaults. Keys are question ids.
";

impl Answers {
    pub fn new(recorded_on: impl Into<String>) -> Self {
        Answers {
            recorded_on: recorded_on.into(),
            entries: Vec::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Answer> {
        self.entries.iter().find(|(k, _)| k == id).map(|(_, a)| a)
    }

    /// Records an answer; a question asked again (a changed mind) keeps its first place.
    pub fn set(&mut self, id: &str, answer: Answer) {
        match self.entries.iter_mut().find(|(k, _)| k == id) {
            Some(e) => e.1 = answer,
            None => self.entries.push((id.to_string(), answer)),
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn to_yaml(&self) -> Result<String, String> {
        let mut answers = Mapping::new();
        for (id, a) in &self.entries {
            let v = match a {
                Answer::Bool(b) => Value::Bool(*b),
                Answer::Text(t) => Value::String(t.clone()),
                Answer::Many(v) => Value::Sequence(v.iter().cloned().map(Value::String).collect()),
            };
            answers.insert(Value::String(id.clone()), v);
        }
        let file = File {
            schema: SCHEMA_VERSION,
            recorded_on: self.recorded_on.clone(),
            answers,
        };
        let body = serde_yaml_ng::to_string(&file).map_err(|e| e.to_string())?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Written whole or not at all: an interrupted run never leaves half an answers file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = self.to_yaml().map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, text.as_bytes())
    }

    pub fn load(path: &Path) -> Result<Answers, AnswersError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnswersError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Answers, AnswersError> {
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            AnswersError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        if file.schema != SCHEMA_VERSION {
            return Err(AnswersError::Schema {
                path: path.to_path_buf(),
                found: file.schema,
            });
        }
        let mut answers = Answers::new(file.recorded_on);
        for (k, v) in file.answers {
            let id = match k {
                Value::String(s) => s,
                other => scalar_text(&other).ok_or_else(|| AnswersError::Value {
                    path: path.to_path_buf(),
                    id: format!("{other:?}"),
                    message: "a question id must be a text".to_string(),
                })?,
            };
            let answer = answer_of(&v).ok_or_else(|| AnswersError::Value {
                path: path.to_path_buf(),
                id: id.clone(),
                message: "an answer is true/false, a text, or a list of texts".to_string(),
            })?;
            answers.set(&id, answer);
        }
        Ok(answers)
    }
}

fn answer_of(v: &Value) -> Option<Answer> {
    match v {
        Value::Bool(b) => Some(Answer::Bool(*b)),
        Value::Sequence(items) => items
            .iter()
            .map(scalar_text)
            .collect::<Option<Vec<_>>>()
            .map(Answer::Many),
        // `null` is an empty text (`app.x.ports:` with nothing after it).
        Value::Null => Some(Answer::Text(String::new())),
        other => scalar_text(other).map(Answer::Text),
    }
}

/// People write `app.x.ports: 80` in YAML: a number is the text it reads as.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_the_order_asked() {
        let mut a = Answers::new("web01");
        a.set("apps.select", Answer::Many(vec!["nginx".into()]));
        a.set(
            "app.nginx.volumes./var/lib/nginx.populate",
            Answer::Bool(true),
        );
        a.set("app.nginx.ports", Answer::Text("80/tcp".into()));
        let back = Answers::parse(Path::new("a.yaml"), &a.to_yaml().unwrap()).unwrap();
        assert_eq!(back, a);
        let ids: Vec<&str> = back.ids().collect();
        assert_eq!(ids[0], "apps.select");
        assert_eq!(ids[2], "app.nginx.ports");
    }

    #[test]
    fn numbers_read_as_text_and_bad_yaml_names_line_and_column() {
        let a = Answers::parse(
            Path::new("a.yaml"),
            "schema: 1\nanswers:\n  app.x.ports: 80\n",
        )
        .unwrap();
        assert_eq!(a.get("app.x.ports"), Some(&Answer::Text("80".into())));
        let err = Answers::parse(Path::new("a.yaml"), "schema: 1\nanswers:\n  x: [a\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.yaml:"), "{err}");
        assert!(err.contains("not a valid answers file"), "{err}");
        let err = Answers::parse(Path::new("a.yaml"), "schema: 1\nanswer: {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.yaml:2:1:"), "{err}");
        let err = Answers::parse(Path::new("a.yaml"), "schema: 1\nanswers:\n  x: {a: 1}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.yaml: x:"), "{err}");
    }
}
