//! Expansion errors.
//!
//! Messages follow BuildKit's wording so users who search for them find the
//! same answers; each variant also carries the byte offset in the input word
//! where the offending construct starts (the quote, or the `$` of a `${...}`),
//! so a caller can point into the Dockerfile line.

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// A `'` or `"` that is never closed.
    #[error("unexpected end of statement while looking for matching {}", quote_name(*quote))]
    UnterminatedQuote { quote: char, offset: usize },
    /// The input ended while a nested word still waited for `expected`.
    #[error("unexpected end of statement while looking for matching {expected}")]
    UnexpectedEnd { expected: char, offset: usize },
    /// `${` without its closing `}`.
    #[error("syntax error: missing '}}'")]
    MissingBrace { offset: usize },
    /// `${v/pattern` without the `/` that ends the pattern.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash { offset: usize },
    /// `${}`, `${{...`, `${:...`.
    #[error("syntax error: bad substitution")]
    BadSubstitution { offset: usize },
    /// A `${name...}` form this shell does not implement, e.g. `${v:=w}` or `${v:#p}`.
    #[error("unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier { modifier: String, offset: usize },
    /// `${v?msg}` with `v` unset, or `${v:?msg}` with `v` unset or empty.
    #[error("{name}: {message}")]
    Required {
        name: String,
        message: String,
        offset: usize,
    },
    /// A `#`, `%` or `/` pattern with a bad escape such as `\x`.
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern {
        pattern: String,
        reason: String,
        offset: usize,
    },
    /// Substitutions nested past what the expander's stack allows. BuildKit has
    /// no such limit; no real Dockerfile comes near it.
    #[error("substitutions nested deeper than {limit} levels")]
    TooDeep { limit: usize, offset: usize },
    /// The expanded word grew past the expander's size limit (only possible
    /// with replace-all used to multiply text).
    #[error("expanded word exceeds {limit} bytes")]
    TooLarge { limit: usize, offset: usize },
}

impl ShellError {
    /// Byte offset in the input word where the problem starts.
    pub fn offset(&self) -> usize {
        match self {
            ShellError::UnterminatedQuote { offset, .. }
            | ShellError::UnexpectedEnd { offset, .. }
            | ShellError::MissingBrace { offset }
            | ShellError::MissingSlash { offset }
            | ShellError::BadSubstitution { offset }
            | ShellError::UnsupportedModifier { offset, .. }
            | ShellError::Required { offset, .. }
            | ShellError::InvalidPattern { offset, .. }
            | ShellError::TooDeep { offset, .. }
            | ShellError::TooLarge { offset, .. } => *offset,
        }
    }

    /// The full message BuildKit prints, naming the word that failed:
    /// `failed to process "${a": syntax error: missing '}'`.
    pub fn describe(&self, word: &str) -> String {
        format!("failed to process {word:?}: {self}")
    }
}

fn quote_name(quote: char) -> &'static str {
    if quote == '\'' {
        "single-quote"
    } else {
        "double-quote"
    }
}
