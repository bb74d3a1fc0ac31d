//! Shell-word expansion for Dockerfile arguments: quote removal, `$VAR`
//! expansion and field splitting.
//!
//! This is not a shell. It reproduces what BuildKit's Dockerfile frontend does
//! to a word before an instruction sees it (`frontend/dockerfile/shell/lex.go`),
//! because a Dockerfile must mean the same thing under `rbuild` as under
//! `docker build`. Supported forms: `$v`, `${v}`, `${v-w}`, `${v:-w}`,
//! `${v+w}`, `${v:+w}`, `${v?w}`, `${v:?w}`, `${v#p}`, `${v##p}`, `${v%p}`,
//! `${v%%p}`, `${v/p/r}`, `${v//p/r}`; single and double quotes; the
//! Dockerfile's escape character (`\` or `` ` ``). Positional and special
//! parameters (`$1`, `$@`, `$#`, ...) are looked up like any name and so are
//! normally unset. Nothing here knows about Dockerfiles.
//!
//! Known differences from BuildKit, all deliberate:
//! - `process_words` keeps the text before a `${v:-w}`-style form in the same
//!   field; current BuildKit loses it (a shared buffer is reset by the nested
//!   word), which is a bug, and older BuildKit kept it.
//! - With `skip_unset_env`, `${unset//p/r}` is written back with `//`.
//! - Nesting deeper than [`MAX_NESTING`] levels is an error instead of a
//!   stack overflow.
//! - `${v` is reported as a missing `}` rather than an unsupported modifier.

mod env;
mod error;
mod expand;
mod fields;
mod pattern;
mod unicode;
mod unicode_tables;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use env::{EnvList, EnvLookup};
pub use error::ShellError;

use expand::Expander;
use fields::Fields;

/// How deep substitutions may nest inside one another.
pub const MAX_NESTING: usize = expand::MAX_DEPTH;

/// Expansion settings. The flags exist for callers that need to see a word's
/// syntax rather than its value, e.g. heredoc markers (`<<"EOF"` is quoted, so
/// its body is not expanded) are found with `raw_quotes` and `raw_escapes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexer {
    /// The escape character: `\`, or `` ` `` under `# escape=``.
    pub escape: char,
    /// Keep quote characters in the output (their content is still treated as quoted).
    pub raw_quotes: bool,
    /// Keep escape characters in the output (what they escape is still escaped).
    pub raw_escapes: bool,
    /// Leave references to unset variables as written, for a later pass.
    pub skip_unset_env: bool,
    /// Treat `'` and `"` as ordinary characters.
    pub skip_process_quotes: bool,
}

impl Lexer {
    /// A lexer with the given escape character and every flag off.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
        }
    }

    /// Expands `word` as one word: quotes removed, no field splitting
    /// (BuildKit's `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn EnvLookup) -> Result<String, ShellError> {
        Expander::new(self, env, word, false).run(None)
    }

    /// Like [`Lexer::process_word`], and also reports which variable names
    /// were set (`matched`) and unset (`unmatched`) when looked up, so a lint
    /// can flag undefined variables. `words` holds the split fields.
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn EnvLookup,
    ) -> Result<Expansion, ShellError> {
        let mut expander = Expander::new(self, env, word, true);
        let mut fields = Fields::default();
        let result = expander.run(Some(&mut fields))?;
        let seen = expander.take_seen();
        Ok(Expansion {
            result,
            words: fields.finish(),
            matched: seen.matched,
            unmatched: seen.unmatched,
        })
    }

    /// Expands `word` and splits it into fields: unquoted whitespace, written
    /// or produced by an unquoted expansion, separates fields; empty fields
    /// are dropped (BuildKit's `ProcessWords`).
    pub fn process_words(
        &self,
        word: &str,
        env: &dyn EnvLookup,
    ) -> Result<Vec<String>, ShellError> {
        let mut fields = Fields::default();
        Expander::new(self, env, word, false).run(Some(&mut fields))?;
        Ok(fields.finish())
    }
}

impl Default for Lexer {
    /// The Dockerfile default: backslash escapes.
    fn default() -> Self {
        Lexer::new('\\')
    }
}

/// The outcome of [`Lexer::process_word_with_matches`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansion {
    /// The expanded word, as `process_word` returns it.
    pub result: String,
    /// The same word split into fields, as `process_words` returns it.
    pub words: Vec<String>,
    /// Names that were looked up and set (possibly to the empty string).
    pub matched: BTreeSet<String>,
    /// Names that were looked up and unset.
    pub unmatched: BTreeSet<String>,
}
