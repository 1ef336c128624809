//! Answers from a file: no terminal, no person. A missing answer takes the question's default,
//! or fails naming the id; an answer that does not fit this host fails naming the id.

use super::{Answer, Answers, Asker, Question, WizardError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub struct Replay {
    file: PathBuf,
    answers: Answers,
    used: BTreeSet<String>,
}

impl Replay {
    pub fn load(file: &Path) -> Result<Self, WizardError> {
        Ok(Replay {
            file: file.to_path_buf(),
            answers: Answers::load(file)?,
            used: BTreeSet::new(),
        })
    }

    pub fn new(file: &Path, answers: Answers) -> Self {
        Replay {
            file: file.to_path_buf(),
            answers,
            used: BTreeSet::new(),
        }
    }

    /// Answers no question asked for (an app not selected, a typo in an id): worth a warning,
    /// since the person meant something by them.
    pub fn unused(&self) -> Vec<String> {
        self.answers
            .ids()
            .filter(|id| !self.used.contains(*id))
            .map(str::to_string)
            .collect()
    }
}

impl Asker for Replay {
    fn ask(&mut self, q: &Question) -> Result<Answer, WizardError> {
        if !q.record {
            return q.default.clone().ok_or_else(|| self.missing(q));
        }
        let Some(given) = self.answers.get(&q.id).cloned() else {
            return q.default.clone().ok_or_else(|| self.missing(q));
        };
        self.used.insert(q.id.clone());
        let given = coerce(q, given);
        q.check(&given).map_err(|reason| WizardError::Invalid {
            file: self.file.clone(),
            id: q.id.clone(),
            reason,
        })?;
        Ok(given)
    }

    fn say(&mut self, _text: &str) {}
}

impl Replay {
    fn missing(&self, q: &Question) -> WizardError {
        WizardError::Missing {
            file: self.file.clone(),
            id: q.id.clone(),
        }
    }
}

/// What a person naturally writes by hand: `apps.select: nginx` for a one-item list, `yes` for
/// true.
fn coerce(q: &Question, a: Answer) -> Answer {
    use super::Kind;
    match (&q.kind, a) {
        (Kind::MultiSelect { .. }, Answer::Text(t)) => Answer::Many(vec![t]),
        (Kind::Confirm, Answer::Text(t)) => match t.to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" => Answer::Bool(true),
            "no" | "n" | "false" => Answer::Bool(false),
            _ => Answer::Text(t),
        },
        (_, a) => a,
    }
}
