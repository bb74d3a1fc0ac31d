//! The expander: one left-to-right pass over a word.
//!
//! The structure follows BuildKit's lexer on purpose, because its quirks are
//! the specification: `$` is looked at before quotes and before the escape
//! character; an escape at the very end vanishes; inside double quotes the
//! escape only escapes `"`, `$` and itself; the text of `${v-w}` is expanded
//! without raw escapes while the patterns of `#`, `%` and `/` keep them (the
//! pattern compiler needs `\*` to stay `\*`).

use std::collections::BTreeSet;

use super::env::EnvLookup;
use super::error::ShellError;
use super::fields::Fields;
use super::pattern::{self, PatternError};
use super::unicode::{is_digit, is_letter};
use super::Lexer;

/// How deep `${a:-${b:-...}}` may nest. Each level costs a few stack frames;
/// without a cap a long enough input would overflow the stack.
pub(super) const MAX_DEPTH: usize = 200;

/// Variable names seen during one expansion, for linting.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) matched: BTreeSet<String>,
    pub(super) unmatched: BTreeSet<String>,
}

pub(super) struct Expander<'a> {
    lexer: &'a Lexer,
    env: &'a dyn EnvLookup,
    src: &'a str,
    pos: usize,
    depth: usize,
    /// `Some` only when the caller asked which names were looked up.
    seen: Option<Seen>,
}

impl<'a> Expander<'a> {
    pub(super) fn new(
        lexer: &'a Lexer,
        env: &'a dyn EnvLookup,
        src: &'a str,
        capture: bool,
    ) -> Self {
        // Go's text scanner skips a byte order mark at the start of the input.
        let pos = if src.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        Expander {
            lexer,
            env,
            src,
            pos,
            depth: 0,
            seen: capture.then(Seen::default),
        }
    }

    /// Expands the whole word; fills `fields` with the split words if given.
    pub(super) fn run(&mut self, fields: Option<&mut Fields>) -> Result<String, ShellError> {
        self.expand_until(None, self.lexer.raw_escapes, fields)
    }

    pub(super) fn take_seen(&mut self) -> Seen {
        self.seen.take().unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// Expands up to (and consuming) `stop`, or to the end when `stop` is None.
    fn expand_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        mut fields: Option<&mut Fields>,
    ) -> Result<String, ShellError> {
        let escape = self.lexer.escape;
        let quotes = !self.lexer.skip_process_quotes;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stop == Some(c) {
                self.bump();
                return Ok(out);
            }
            let start = out.len();
            match c {
                '$' => {
                    self.dollar(&mut out)?;
                    if out.len() > pattern::MAX_REPLACE_RESULT {
                        return Err(ShellError::TooLarge {
                            limit: pattern::MAX_REPLACE_RESULT,
                            offset: self.pos,
                        });
                    }
                    if let Some(f) = fields.as_deref_mut() {
                        f.push_str(out.get(start..).unwrap_or(""));
                    }
                }
                '\'' | '"' if quotes => {
                    if c == '\'' {
                        self.single_quote(&mut out)?;
                    } else {
                        self.double_quote(&mut out, raw_escapes)?;
                    }
                    if let Some(f) = fields.as_deref_mut() {
                        f.push_raw_str(out.get(start..).unwrap_or(""));
                    }
                }
                _ => {
                    self.bump();
                    if c != escape {
                        out.push(c);
                        if let Some(f) = fields.as_deref_mut() {
                            f.push_char(c);
                        }
                        continue;
                    }
                    if raw_escapes {
                        out.push(c);
                        if let Some(f) = fields.as_deref_mut() {
                            f.push_raw_char(c);
                        }
                    }
                    // An escape character at the very end is dropped.
                    let Some(escaped) = self.bump() else { break };
                    out.push(escaped);
                    if let Some(f) = fields.as_deref_mut() {
                        f.push_raw_char(escaped);
                    }
                }
            }
        }
        match stop {
            Some(expected) => Err(ShellError::UnexpectedEnd {
                expected,
                offset: self.pos,
            }),
            None => Ok(out),
        }
    }

    /// `'...'`: everything literal up to the next `'`; nothing escapes it.
    fn single_quote(&mut self, out: &mut String) -> Result<(), ShellError> {
        let open = self.pos;
        self.bump();
        let rest = self.src.get(self.pos..).unwrap_or("");
        let Some(len) = rest.find('\'') else {
            self.pos = self.src.len();
            return Err(ShellError::UnterminatedQuote {
                quote: '\'',
                offset: open,
            });
        };
        let raw = self.lexer.raw_quotes;
        if raw {
            out.push('\'');
        }
        out.push_str(rest.get(..len).unwrap_or(""));
        if raw {
            out.push('\'');
        }
        self.pos += len + 1;
        Ok(())
    }

    /// `"..."`: `$` expands; the escape character escapes only `"`, `$` and
    /// itself and is otherwise kept (written twice with raw escapes, as BuildKit does).
    fn double_quote(&mut self, out: &mut String, raw_escapes: bool) -> Result<(), ShellError> {
        let open = self.pos;
        let escape = self.lexer.escape;
        self.bump();
        if self.lexer.raw_quotes {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(ShellError::UnterminatedQuote {
                        quote: '"',
                        offset: open,
                    })
                }
                Some('"') => {
                    self.bump();
                    if self.lexer.raw_quotes {
                        out.push('"');
                    }
                    return Ok(());
                }
                Some('$') => self.dollar(out)?,
                Some(c) => {
                    self.bump();
                    let mut ch = c;
                    if c == escape {
                        if raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            // Dropped; the loop then reports the missing quote.
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == escape => {
                                self.bump();
                                ch = next;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// A `$` form, its value appended to `out`.
    fn dollar(&mut self, out: &mut String) -> Result<(), ShellError> {
        let at = self.pos;
        if self.depth >= MAX_DEPTH {
            return Err(ShellError::TooDeep {
                limit: MAX_DEPTH,
                offset: at,
            });
        }
        self.depth += 1;
        let result = self.dollar_inner(out, at);
        self.depth -= 1;
        result
    }

    fn dollar_inner(&mut self, out: &mut String, at: usize) -> Result<(), ShellError> {
        self.bump(); // the '$'
        if self.peek() != Some('{') {
            let name = self.read_name();
            if name.is_empty() {
                // A lone `$` (or `$.`) is literal.
                out.push('$');
                return Ok(());
            }
            match self.lookup(name) {
                Some(value) => out.push_str(value),
                None if self.lexer.skip_unset_env => {
                    out.push('$');
                    out.push_str(name);
                }
                None => {}
            }
            return Ok(());
        }
        self.bump(); // the '{'
        match self.peek() {
            None => return Err(ShellError::MissingBrace { offset: at }),
            Some('{' | '}' | ':') => return Err(ShellError::BadSubstitution { offset: at }),
            Some(_) => {}
        }
        let name = self.read_name();
        match self.bump() {
            Some('}') => {
                match self.lookup(name) {
                    Some(value) => out.push_str(value),
                    None if self.lexer.skip_unset_env => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                    None => {}
                }
                Ok(())
            }
            Some(':') => {
                let op = self.bump();
                self.modifier(out, at, name, true, op)
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => {
                self.modifier(out, at, name, false, Some(op))
            }
            Some('/') => self.substitute(out, at, name),
            // BuildKit calls `${abc` an unsupported modifier; say what is wrong.
            None => Err(ShellError::MissingBrace { offset: at }),
            Some(other) => Err(ShellError::UnsupportedModifier {
                modifier: other.to_string(),
                offset: at,
            }),
        }
    }

    /// `${name-word}`, `${name:+word}`, `${name#pattern}`... `colon` says a
    /// `:` came first, making an empty value count as unset.
    fn modifier(
        &mut self,
        out: &mut String,
        at: usize,
        name: &str,
        colon: bool,
        op: Option<char>,
    ) -> Result<(), ShellError> {
        let modifier_text = || {
            let mut text = String::with_capacity(2);
            if colon {
                text.push(':');
            }
            text.push(op.unwrap_or('\u{fffd}'));
            text
        };
        let is_pattern = matches!(op, Some('#' | '%'));
        if colon && is_pattern {
            return Err(ShellError::UnsupportedModifier {
                modifier: modifier_text(),
                offset: at,
            });
        }
        let word = self.nested(Some('}'), is_pattern, at)?;
        let value = self.lookup(name);
        if value.is_none() && self.lexer.skip_unset_env {
            // Leave the whole form for a later pass that knows the variable.
            out.push_str("${");
            out.push_str(name);
            out.push_str(&modifier_text());
            out.push_str(&word);
            out.push('}');
            return Ok(());
        }
        let unset = match value {
            None => true,
            Some(v) => colon && v.is_empty(),
        };
        match op {
            Some('-') => out.push_str(if unset {
                word.as_str()
            } else {
                value.unwrap_or("")
            }),
            Some('+') => {
                if !unset {
                    out.push_str(&word);
                }
            }
            Some('?') => {
                if unset {
                    let message = if !word.is_empty() {
                        word
                    } else if value.is_none() {
                        "is not allowed to be unset".to_owned()
                    } else {
                        "is not allowed to be empty".to_owned()
                    };
                    return Err(ShellError::Required {
                        name: name.to_owned(),
                        message,
                        offset: at,
                    });
                }
                out.push_str(value.unwrap_or(""));
            }
            Some(op @ ('#' | '%')) => {
                let value = value.unwrap_or("");
                // A doubled operator (`##`, `%%`) asks for the longest match.
                let (pattern, greedy) = match word.strip_prefix(op) {
                    Some(rest) => (rest, true),
                    None => (word.as_str(), false),
                };
                let trimmed = if op == '%' {
                    pattern::trim_suffix(value, pattern, greedy)
                } else {
                    pattern::trim_prefix(value, pattern, greedy)
                };
                out.push_str(trimmed.map_err(|e| invalid_pattern(pattern, e, at))?);
            }
            _ => {
                return Err(ShellError::UnsupportedModifier {
                    modifier: modifier_text(),
                    offset: at,
                })
            }
        }
        Ok(())
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn substitute(&mut self, out: &mut String, at: usize, name: &str) -> Result<(), ShellError> {
        let all = self.peek() == Some('/');
        if all {
            self.bump();
        }
        let pattern = self.nested(Some('/'), true, at)?;
        let replacement = self.nested(Some('}'), true, at)?;
        let value = self.lookup(name);
        if value.is_none() && self.lexer.skip_unset_env {
            // BuildKit writes a single `/` here even for `//`, which would
            // turn replace-all into replace-first on the next pass; we keep it.
            out.push_str("${");
            out.push_str(name);
            out.push_str(if all { "//" } else { "/" });
            out.push_str(&pattern);
            out.push('/');
            out.push_str(&replacement);
            out.push('}');
            return Ok(());
        }
        // An unset variable is matched as the empty string, so a pattern that
        // matches nothing (`${unset/*/x}`) still yields the replacement.
        let value = value.unwrap_or("");
        let replaced = if all {
            pattern::replace_all(value, &pattern, &replacement)
        } else {
            pattern::replace_first(value, &pattern, &replacement)
        };
        out.push_str(&replaced.map_err(|e| invalid_pattern(&pattern, e, at))?);
        Ok(())
    }

    /// The text inside a `${...}` up to `stop`. Any failure that ran into the
    /// end of the input is reported as the missing delimiter, as BuildKit does.
    fn nested(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        at: usize,
    ) -> Result<String, ShellError> {
        self.expand_until(stop, raw_escapes, None).map_err(|err| {
            if !self.at_end()
                || matches!(
                    err,
                    ShellError::TooDeep { .. } | ShellError::TooLarge { .. }
                )
            {
                err
            } else if stop == Some('/') {
                ShellError::MissingSlash { offset: at }
            } else {
                ShellError::MissingBrace { offset: at }
            }
        })
    }

    /// A variable name: a run of digits (positional), one special parameter
    /// character, or letters, digits and `_`. Borrowed from the input.
    fn read_name(&mut self) -> &'a str {
        let start = self.pos;
        match self.peek() {
            Some(c) if is_digit(c) => {
                while self.peek().is_some_and(is_digit) {
                    self.bump();
                }
            }
            Some('@' | '*' | '#' | '?' | '-' | '$' | '!') => {
                self.bump();
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| is_letter(c) || is_digit(c) || c == '_')
                {
                    self.bump();
                }
            }
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// Looks `name` up, remembering whether it was set when capturing.
    fn lookup(&mut self, name: &str) -> Option<&'a str> {
        let value = self.env.get(name);
        if let Some(seen) = self.seen.as_mut() {
            let set = if value.is_some() {
                &mut seen.matched
            } else {
                &mut seen.unmatched
            };
            if !set.contains(name) {
                set.insert(name.to_owned());
            }
        }
        value
    }
}

fn invalid_pattern(pattern: &str, err: PatternError, at: usize) -> ShellError {
    ShellError::InvalidPattern {
        pattern: pattern.to_owned(),
        reason: err.0,
        offset: at,
    }
}
