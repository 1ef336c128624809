//! The templates under `templates/`, compiled in and rendered with handlebars in strict mode: a
//! template naming a field the model lacks fails the render instead of printing nothing.

use super::{Report, ReportError};
use handlebars::{handlebars_helper, Handlebars};
use serde::Serialize;

const STYLE: &str = include_str!("../../templates/style.css.hbs");
const CHART: &str = include_str!("../../templates/chart.svg.hbs");
const REPORT_HTML: &str = include_str!("../../templates/report.html.hbs");
const REPORT_MD: &str = include_str!("../../templates/report.md.hbs");
const FLEET_HTML: &str = include_str!("../../templates/fleet.html.hbs");

handlebars_helper!(cell: |s: str| s.replace('|', "\\|").replace('\n', " "));
handlebars_helper!(plural: |n: u64, word: str| if n == 1 {
    format!("1 {word}")
} else {
    format!("{n} {word}s")
});

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
}

fn registry(format: Format) -> Result<Handlebars<'static>, ReportError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    if format == Format::Markdown {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb.register_helper("cell", Box::new(cell));
    hb.register_helper("plural", Box::new(plural));
    hb.register_partial("style", STYLE)
        .map_err(|e| template_error("style.css.hbs", e))?;
    hb.register_partial("chart", CHART)
        .map_err(|e| template_error("chart.svg.hbs", e))?;
    Ok(hb)
}

fn template_error(template: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Render {
        template: template.to_string(),
        message: e.to_string(),
    }
}

/// Renders one of the compiled-in templates with `data`.
pub(crate) fn render<T: Serialize>(
    name: &str,
    source: &str,
    format: Format,
    data: &T,
) -> Result<String, ReportError> {
    let hb = registry(format)?;
    hb.render_template(source, data)
        .map_err(|e| template_error(name, e))
}

pub fn report_html(report: &Report) -> Result<String, ReportError> {
    render("report.html.hbs", REPORT_HTML, Format::Html, report)
}

pub fn report_markdown(report: &Report) -> Result<String, ReportError> {
    render("report.md.hbs", REPORT_MD, Format::Markdown, report)
}

pub(crate) fn fleet_html<T: Serialize>(data: &T) -> Result<String, ReportError> {
    render("fleet.html.hbs", FLEET_HTML, Format::Html, data)
}
