//! Going back a question: the wizard's flow is straight-line code, so "back" replays it from the
//! start with the answers given so far, silently, up to the question before the one being
//! asked, which is asked again with its earlier answer offered. A flow that is a function of its
//! answers needs nothing else.

use super::{Answer, Asker, Question, WizardError};

pub struct Rewind<'a> {
    inner: &'a mut dyn Asker,
    /// (question id, answer) in the order asked, navigation included.
    history: Vec<(String, Answer)>,
    /// How many of `history` this pass has replayed.
    pos: usize,
    /// What the flow said while replaying, shown when the person is asked again.
    said: Vec<String>,
}

impl<'a> Rewind<'a> {
    pub fn new(inner: &'a mut dyn Asker) -> Self {
        Rewind {
            inner,
            history: Vec::new(),
            pos: 0,
            said: Vec::new(),
        }
    }

    /// Starts a pass of the flow from its first question.
    pub fn restart(&mut self) {
        self.pos = 0;
        self.said.clear();
    }

    /// The person went back from the question after the last answer: forget that answer, and
    /// offer it when its question comes again. False when there is nothing to go back to.
    pub fn back(&mut self) -> bool {
        match self.history.pop() {
            Some((id, answer)) => {
                self.inner.offer(&id, answer);
                true
            }
            None => false,
        }
    }

    fn replaying(&self) -> bool {
        self.pos < self.history.len()
    }
}

impl Asker for Rewind<'_> {
    fn ask(&mut self, q: &Question) -> Result<Answer, WizardError> {
        if self.replaying() {
            let (id, answer) = &self.history[self.pos];
            // The same flow with the same answers asks the same questions; anything else ends
            // the replay here and asks the person.
            if *id == q.id && q.check(answer).is_ok() {
                self.pos += 1;
                self.said.clear();
                return Ok(answer.clone());
            }
            self.history.truncate(self.pos);
        }
        for text in std::mem::take(&mut self.said) {
            self.inner.say(&text);
        }
        let answer = self.inner.ask(q)?;
        self.history.push((q.id.clone(), answer.clone()));
        self.pos = self.history.len();
        Ok(answer)
    }

    fn say(&mut self, text: &str) {
        if self.replaying() {
            self.said.push(text.to_string());
        } else {
            self.inner.say(text);
        }
    }

    fn offer(&mut self, id: &str, answer: Answer) {
        self.inner.offer(id, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from a script; `None` is the person going back.
    struct Script {
        steps: Vec<Option<Answer>>,
        asked: Vec<String>,
        offered: Vec<(String, Answer)>,
        said: Vec<String>,
    }

    impl Asker for Script {
        fn ask(&mut self, q: &Question) -> Result<Answer, WizardError> {
            self.asked.push(q.id.clone());
            match self.steps.remove(0) {
                Some(a) => Ok(a),
                None => Err(WizardError::Back),
            }
        }
        fn say(&mut self, text: &str) {
            self.said.push(text.to_string());
        }
        fn offer(&mut self, id: &str, answer: Answer) {
            self.offered.push((id.to_string(), answer));
        }
    }

    fn flow(a: &mut dyn Asker) -> Result<Vec<String>, WizardError> {
        let text = |id: &str| Question::text(id, id, "", None);
        let first = a.ask(&text("one"))?.as_text().to_string();
        a.say(&format!("about {first}"));
        let second = a.ask(&text("two"))?.as_text().to_string();
        let third = a.ask(&text("three"))?.as_text().to_string();
        Ok(vec![first, second, third])
    }

    #[test]
    fn back_asks_the_previous_question_again_and_keeps_the_rest() {
        let t = |s: &str| Some(Answer::Text(s.to_string()));
        let mut script = Script {
            steps: vec![t("a"), t("b"), None, t("B"), t("c")],
            asked: Vec::new(),
            offered: Vec::new(),
            said: Vec::new(),
        };
        let mut rewind = Rewind::new(&mut script);
        let result = loop {
            rewind.restart();
            match flow(&mut rewind) {
                Err(WizardError::Back) if rewind.back() => continue,
                other => break other.unwrap(),
            }
        };
        assert_eq!(result, ["a", "B", "c"]);
        assert_eq!(script.asked, ["one", "two", "three", "two", "three"]);
        assert_eq!(
            script.offered,
            [("two".to_string(), Answer::Text("b".to_string()))]
        );
        assert_eq!(
            script.said,
            ["about a", "about a"],
            "what led to the question asked again is shown again"
        );
    }
}
