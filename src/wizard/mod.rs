//! The wizard as a question/answer engine: the wizard's logic ([`flow`]) asks [`Question`]s with
//! stable ids through an [`Asker`]; a person answers at a terminal, or an answers file answers
//! in batch ([`Replay`]). Both give the same plan, so an engagement can be re-run unattended or
//! on the next server.

pub mod answers;
pub mod edit;
pub mod flow;
pub mod question;
mod replay;
pub mod review;
mod rewind;

pub use answers::{Answers, AnswersError};
pub use question::{Answer, Choice, Kind, Question, Validator};
pub use replay::Replay;
pub use rewind::Rewind;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    #[error("interrupted")]
    Interrupted,
    /// The person asked to go back to the previous question (Esc).
    #[error("back")]
    Back,
    #[error("terminal: {0}")]
    Terminal(String),
    #[error("{file}: {id}: no answer, and the question has no default")]
    Missing { file: PathBuf, id: String },
    #[error("{file}: {id}: {reason}")]
    Invalid {
        file: PathBuf,
        id: String,
        reason: String,
    },
    #[error(transparent)]
    Answers(#[from] AnswersError),
    #[error("apps.select: no application found on {host}: nothing listens on a port or runs as a service")]
    NothingFound { host: String },
}

/// Who answers: a person at a terminal, or an answers file.
pub trait Asker {
    fn ask(&mut self, q: &Question) -> Result<Answer, WizardError>;
    /// Something for the person to read before the next question (a review table); an answers
    /// file has no reader, so replay drops it.
    fn say(&mut self, text: &str);
    /// An earlier answer to offer as the default when `id` is asked again (after going back).
    fn offer(&mut self, _id: &str, _answer: Answer) {}
}

/// An asker with the answers given so far, which become the answers file.
pub struct Session<'a> {
    asker: &'a mut dyn Asker,
    pub answers: Answers,
}

impl<'a> Session<'a> {
    pub fn new(asker: &'a mut dyn Asker, recorded_on: &str) -> Self {
        Session {
            asker,
            answers: Answers::new(recorded_on),
        }
    }

    pub fn ask(&mut self, q: &Question) -> Result<Answer, WizardError> {
        let a = self.asker.ask(q)?;
        if q.record {
            self.answers.set(&q.id, a.clone());
        }
        Ok(a)
    }

    pub fn say(&mut self, text: &str) {
        self.asker.say(text);
    }
}
