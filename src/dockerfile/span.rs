//! Source positions: every AST node points back into the Dockerfile text.

use serde::Serialize;

/// A point in the source: 1-based line and column (in characters), plus the
/// byte offset into the whole text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A half-open range of source text. `end` is the position just past the last
/// character, so an instruction on line 3 ends on line 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    pub fn new(start: Position, end: Position) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Line-start table over the whole text, to turn byte offsets into positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Byte offset where 1-based `line` starts (clamped to the last line).
    pub fn line_start(&self, line: usize) -> usize {
        let idx = line.saturating_sub(1).min(self.starts.len() - 1);
        self.starts[idx]
    }

    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let mut line_start = self.starts[line_idx];
        // A byte-order mark is invisible in editors: columns start after it.
        if line_idx == 0 && text.starts_with('\u{feff}') && offset >= 3 {
            line_start = 3;
        }
        let column = text[line_start..offset].chars().count() + 1;
        Position {
            line: line_idx + 1,
            column,
            offset,
        }
    }

    pub fn span(&self, text: &str, start: usize, end: usize) -> Span {
        Span::new(self.position(text, start), self.position(text, end))
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Maps byte offsets of a logical line (physical lines joined after removing
/// continuation characters) back to byte offsets in the source text.
#[derive(Debug, Clone, Default)]
pub struct LogicalLineMap {
    /// (offset in the logical line, offset in the source, length), in order.
    segments: Vec<(usize, usize, usize)>,
}

impl LogicalLineMap {
    pub fn push(&mut self, logical_start: usize, source_start: usize, len: usize) {
        self.segments.push((logical_start, source_start, len));
    }

    /// Source offset of a logical-line offset. Offsets past the end map to the
    /// end of the last segment.
    pub fn to_source(&self, logical: usize) -> usize {
        let mut best = 0;
        for &(lstart, sstart, len) in &self.segments {
            if logical < lstart {
                break;
            }
            best = sstart + (logical - lstart).min(len);
        }
        best
    }
}
