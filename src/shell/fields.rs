//! Field splitting for `process_words`.
//!
//! Only text that came out of an unquoted `$` expansion or was written
//! unquoted splits on whitespace; quoted text, escaped characters and raw
//! escape characters always join the current field. An empty pair of quotes
//! does not make an empty field on its own (BuildKit drops empty fields).

use super::unicode::is_space;

#[derive(Debug, Default)]
pub(super) struct Fields {
    words: Vec<String>,
    current: String,
    /// Set once anything (even an empty quoted string) joined the current field.
    in_word: bool,
}

impl Fields {
    /// An unquoted character: whitespace ends the current field.
    pub(super) fn push_char(&mut self, c: char) {
        if is_space(c) {
            if self.in_word && !self.current.is_empty() {
                self.words.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.push_raw_char(c);
        }
    }

    /// A character that never splits (escaped, or a kept escape character).
    pub(super) fn push_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    /// Text from an unquoted expansion: split like unquoted characters.
    pub(super) fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }

    /// Quoted text: joins the current field whole.
    pub(super) fn push_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    pub(super) fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}
