//! Parse errors. Every error carries the span it is about; the CLI renders it.

use super::span::Span;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("file with no instructions")]
    NoInstructions,
    #[error("Dockerfile is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("invalid escape token '{value}' does not match ` or \\")]
    InvalidEscape { value: String },
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective { name: String },
    #[error("{keyword} must have two arguments")]
    MissingValue { keyword: &'static str },
    #[error("Syntax error - can't find = in {word:?}. Must be of the form: name=value")]
    MissingEquals { word: String },
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStrings,
    #[error("unterminated heredoc {name:?}: no line reads {name:?} before the end of the file")]
    UnterminatedHeredoc { name: String },
    #[error("invalid heredoc delimiter: {0}")]
    HeredocDelimiter(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub span: Span,
}

impl ParseError {
    pub fn new(kind: ParseErrorKind, span: Span) -> Self {
        ParseError { kind, span }
    }

    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            ParseErrorKind::NoInstructions => {
                Some("a Dockerfile needs at least a FROM instruction".into())
            }
            ParseErrorKind::MissingValue { keyword } => Some(format!(
                "write `{keyword} name=value`, or `{keyword} name value` (legacy form)"
            )),
            ParseErrorKind::MissingEquals { .. } => Some(
                "once one pair uses `name=value`, every word on the line must; quote values with blanks".into(),
            ),
            ParseErrorKind::JsonNotStrings => Some(
                "exec form is a flat JSON array of strings, e.g. [\"sh\", \"-c\", \"echo hi\"]".into(),
            ),
            ParseErrorKind::UnterminatedHeredoc { name } => Some(format!(
                "end the heredoc with a line containing only {name}"
            )),
            _ => None,
        }
    }
}
