//! Physical lines of the source and the logical lines they join into.

use super::ast::Word;
use super::span::{LineIndex, LogicalLineMap, Span};

/// Iterates physical lines, each with its byte offset, newline kept.
pub struct PhysicalLines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> PhysicalLines<'a> {
    pub fn new(text: &'a str) -> Self {
        PhysicalLines { text, pos: 0 }
    }
}

impl<'a> Iterator for PhysicalLines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i + 1);
        self.pos = end;
        Some((start, &self.text[start..end]))
    }
}

pub fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// A line whose first non-blank character is `#`.
pub fn is_comment(raw: &str) -> bool {
    trim_newline(raw).trim_start().starts_with('#')
}

/// Removes a trailing continuation (the escape character followed only by
/// blanks). Returns the kept text and whether the line continues. An escaped
/// escape character (`\\` at the end) does not continue the line.
pub fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(body) = trimmed.strip_suffix(escape) else {
        return (line, false);
    };
    match body.chars().last() {
        None => ("", true),
        Some(prev) if prev != escape => (body, true),
        Some(_) => (line, false),
    }
}

/// What argument parsers need to turn line offsets into source spans.
pub struct LineCtx<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
    pub map: &'a LogicalLineMap,
    pub escape: char,
}

impl LineCtx<'_> {
    /// The source span of bytes `lo..hi` of the logical line.
    pub fn span(&self, lo: usize, hi: usize) -> Span {
        let start = self.map.to_source(lo);
        let end = self.map.to_source(hi).max(start);
        self.index.span(self.text, start, end)
    }

    pub fn word(&self, text: String, lo: usize, hi: usize) -> Word {
        Word {
            text,
            span: self.span(lo, hi),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation() {
        assert_eq!(strip_continuation("a \\", '\\'), ("a ", true));
        assert_eq!(strip_continuation("a \\  \t", '\\'), ("a ", true));
        assert_eq!(strip_continuation("\\", '\\'), ("", true));
        assert_eq!(strip_continuation("a \\\\", '\\'), ("a \\\\", false));
        assert_eq!(strip_continuation("a `", '`'), ("a ", true));
        assert_eq!(strip_continuation("a", '\\'), ("a", false));
    }
}
