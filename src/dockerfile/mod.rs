//! Dockerfile text → syntax tree. Knows nothing about files, images or the
//! environment; `$VAR` expansion happens later, in `shell`, when steps run.

mod args;
pub mod ast;
mod directives;
pub mod dump;
mod error;
mod heredoc;
mod line;
mod parser;
pub mod span;
mod words;

pub use ast::{
    Args, Directive, Dockerfile, Heredoc, Instruction, KeyValue, Keyword, Warning, Word,
};
pub use error::{ParseError, ParseErrorKind};
pub use heredoc::parse_marker as parse_heredoc_marker;
pub use parser::{parse, parse_bytes};
pub use span::{LineIndex, Position, Span};
