//! The person at the terminal: each question as a dialoguer prompt on stderr. An invalid answer
//! is refused with its reason and asked again.

use dialoguer::console::Term;
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, MultiSelect, Select};
use liftkit::wizard::{Answer, Answers, Asker, Kind, Question, WizardError};
use std::io::IsTerminal;

pub struct Terminal {
    term: Term,
    theme: Box<dyn Theme>,
    /// Answers from an earlier run, offered as the defaults.
    prefill: Answers,
}

/// Colours once for everything that draws (dialoguer, indicatif, both via `console`): off with
/// `NO_COLOR` or when stderr is not a terminal.
pub fn decide_colours() -> bool {
    let on = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    dialoguer::console::set_colors_enabled(on);
    dialoguer::console::set_colors_enabled_stderr(on);
    on
}

impl Terminal {
    pub fn new(colours: bool, prefill: Answers) -> Self {
        let theme: Box<dyn Theme> = if colours {
            Box::new(ColorfulTheme::default())
        } else {
            Box::new(SimpleTheme)
        };
        Terminal {
            term: Term::stderr(),
            theme,
            prefill,
        }
    }

    fn default_for(&self, q: &Question) -> Option<Answer> {
        self.prefill
            .get(&q.id)
            .filter(|a| q.check(a).is_ok())
            .cloned()
            .or_else(|| q.default.clone())
    }

    /// The answer, or `None` when the person goes back: Esc (or q) in a choice, `<` typed as
    /// a text answer (dialoguer's text input has no Esc).
    fn prompt(&self, q: &Question) -> Result<Option<Answer>, dialoguer::Error> {
        let theme = &*self.theme;
        let default = self.default_for(q);
        match &q.kind {
            Kind::Confirm => Ok(Confirm::with_theme(theme)
                .with_prompt(&q.prompt)
                .default(default.is_some_and(|a| a.as_bool()))
                .interact_on_opt(&self.term)?
                .map(Answer::Bool)),
            Kind::Text { validate } => {
                let mut input = Input::<String>::with_theme(theme)
                    .with_prompt(&q.prompt)
                    .allow_empty(true);
                if let Some(d) = default {
                    input = input.default(d.as_text().to_string());
                }
                if let Some(v) = validate.clone() {
                    input = input.validate_with(
                        move |t: &String| {
                            if t.trim() == BACK {
                                Ok(())
                            } else {
                                v(t)
                            }
                        },
                    );
                }
                let text = input.interact_text_on(&self.term)?;
                Ok((text.trim() != BACK).then_some(Answer::Text(text)))
            }
            Kind::Select { choices } => {
                let at = default
                    .and_then(|d| choices.iter().position(|c| c.key == d.as_text()))
                    .unwrap_or(0);
                let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
                let i = Select::with_theme(theme)
                    .with_prompt(&q.prompt)
                    .items(&labels)
                    .default(at)
                    .interact_on_opt(&self.term)?;
                Ok(i.map(|i| Answer::Text(choices[i].key.clone())))
            }
            Kind::MultiSelect { choices, .. } => {
                let chosen = default.map(|d| d.as_many().to_vec()).unwrap_or_default();
                let checked: Vec<bool> = choices.iter().map(|c| chosen.contains(&c.key)).collect();
                let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
                let picked = MultiSelect::with_theme(theme)
                    .with_prompt(&q.prompt)
                    .items(&labels)
                    .defaults(&checked)
                    .interact_on_opt(&self.term)?;
                Ok(picked
                    .map(|p| Answer::Many(p.into_iter().map(|i| choices[i].key.clone()).collect())))
            }
        }
    }
}

impl Asker for Terminal {
    fn ask(&mut self, q: &Question) -> Result<Answer, WizardError> {
        loop {
            let answer = self.prompt(q).map_err(|e| match e {
                dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
                    WizardError::Interrupted
                }
                dialoguer::Error::IO(io) => WizardError::Terminal(io.to_string()),
            })?;
            let Some(answer) = answer else {
                return Err(WizardError::Back);
            };
            // dialoguer does not validate a default taken with Enter, nor count a multi-select.
            match q.check(&answer) {
                Ok(()) => return Ok(answer),
                Err(reason) => {
                    let _ = self.term.write_line(&format!("  ✘ {reason}"));
                }
            }
        }
    }

    fn say(&mut self, text: &str) {
        let _ = self.term.write_line(text.trim_end());
    }

    fn offer(&mut self, id: &str, answer: Answer) {
        self.prefill.set(id, answer);
    }
}

/// Typed as a text answer: back to the previous question.
pub const BACK: &str = "<";

/// Said once, before the first question.
pub const HOW_TO_GO_BACK: &str =
    "Esc goes back to the previous question (in a text answer, type < and Enter).";
