//! Parse, lower and lint results turned into reports for the terminal.

use super::input::DockerfileSource;
use super::render::{Level, Report};
use super::Failure;
use crate::dockerfile::{self, Dockerfile};
use crate::ir::{self, BuildPlan};
use crate::lint::LintWarning;

/// Parses and lowers, rendering the first error with its location.
pub fn parse_and_lower(source: &DockerfileSource) -> Result<(Dockerfile, BuildPlan), Failure> {
    let text = source.text();
    let report = |message: String, span, hint| Report {
        level: Level::Error,
        message,
        span: Some(span),
        hint,
        notes: Vec::new(),
        file: &source.name,
        source: &text,
    };
    let df = dockerfile::parse_bytes(&source.bytes).map_err(|e| {
        Failure::usage(report(format!("dockerfile parse error: {e}"), e.span, e.hint()).render())
    })?;
    let plan = ir::lower(&df).map_err(|e| {
        Failure::usage(report(format!("dockerfile parse error: {e}"), e.span, e.hint()).render())
    })?;
    Ok((df, plan))
}

/// Renders lint warnings as they appear during `lint` and `build`.
pub fn render_warning(source: &DockerfileSource, text: &str, warning: &LintWarning) -> String {
    Report {
        level: Level::Warning,
        message: format!("{}: {}", warning.rule, warning.message),
        span: Some(warning.span),
        hint: warning.hint.clone(),
        notes: vec![format!("see {}", warning.url)],
        file: &source.name,
        source: text,
    }
    .render()
}
