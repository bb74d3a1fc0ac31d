//! The one place errors and warnings are turned into text for people:
//! `error: message`, `--> Dockerfile:LINE:COL`, the source line with a caret
//! underline, and a hint.

use crate::dockerfile::Span;
use std::fmt::Write;

/// An error and its causes: `error: what`, then one `caused by:` line per
/// cause. Every command renders library errors this way.
pub fn error_text(err: &dyn std::error::Error) -> String {
    format!("error: {err}\n{}", cause_lines(err.source()))
}

/// `  caused by: ...` for `first` and each cause below it.
pub fn cause_lines(first: Option<&dyn std::error::Error>) -> String {
    let mut text = String::new();
    let mut cause = first;
    while let Some(c) = cause {
        let _ = writeln!(text, "  caused by: {c}");
        cause = c.source();
    }
    text
}

/// Severity word printed before the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// A located message about a Dockerfile.
pub struct Report<'a> {
    pub level: Level,
    pub message: String,
    pub span: Option<Span>,
    pub hint: Option<String>,
    /// Extra lines such as a documentation link.
    pub notes: Vec<String>,
    /// Display name of the file (`Dockerfile`, or the path given with -f).
    pub file: &'a str,
    pub source: &'a str,
}

impl Report<'_> {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let _ = writeln!(out, "{level}: {}", self.message);
        if let Some(span) = self.span {
            self.render_snippet(span, &mut out);
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "  = note: {note}");
        }
        out
    }

    fn render_snippet(&self, span: Span, out: &mut String) {
        let line_no = span.start.line.max(1);
        let _ = writeln!(
            out,
            " --> {}:{}:{}",
            self.file,
            line_no,
            span.start.column.max(1)
        );
        let Some(line) = self.source.lines().nth(line_no - 1) else {
            return;
        };
        let line = line.trim_end_matches('\r');
        let gutter = line_no.to_string().len();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line_no} | {line}");
        let start_col = span.start.column.max(1);
        let line_chars = line.chars().count();
        let end_col = if span.end.line == span.start.line {
            span.end.column.max(start_col + 1)
        } else {
            line_chars + 1
        };
        let width = end_col.saturating_sub(start_col).max(1);
        let pad: String = line
            .chars()
            .take(start_col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::LineIndex;

    #[test]
    fn snippet_points_at_span() {
        let source = "FROM a\nCOPPY x y\n";
        let index = LineIndex::new(source);
        let report = Report {
            level: Level::Error,
            message: "unknown instruction: COPPY".into(),
            span: Some(index.span(source, 7, 12)),
            hint: Some("did you mean COPY?".into()),
            notes: Vec::new(),
            file: "Dockerfile",
            source,
        };
        assert_eq!(
            report.render(),
            "error: unknown instruction: COPPY\n --> Dockerfile:2:1\n  |\n2 | COPPY x y\n  | ^^^^^\n  = hint: did you mean COPY?\n"
        );
    }
}
