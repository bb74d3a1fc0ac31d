//! Docker's exclude patterns (`.dockerignore`, `COPY --exclude`), with the
//! meaning moby/patternmatcher gives them:
//!
//! - each pattern is trimmed and cleaned like Go's `filepath.Clean`; a leading
//!   `!` makes it an exception, and the last pattern that matches decides;
//! - `*` and `?` never match `/`; `[...]` and `\` work as in `filepath.Match`;
//! - `**` matches any number of directories, including none; a pattern that
//!   starts with `**` and is otherwise literal is a plain suffix test
//!   (`**foo` matches `barfoo`), one that is literal up to a final `**` is a
//!   plain prefix test (`dir/**` matches below `dir`, not `dir` itself);
//! - a pattern that matches a directory also matches everything below it.
//!
//! Malformed patterns (by `filepath.Match`'s rules) are rejected when the
//! matcher is built, with the pattern and its line.

use super::error::PatternError;
use super::glob::{self, match_tokens, Tok, BAD_PATTERN};
use super::gopath;

#[derive(Debug, Clone)]
enum Rule {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Tokens(Vec<Tok>),
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exclusion: bool,
    /// No wildcard or escape at all: can only ever match itself.
    literal: bool,
    rule: Rule,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.rule {
            Rule::Exact(s) => path == s,
            Rule::Prefix(p) => path.starts_with(p.as_str()),
            Rule::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            Rule::Tokens(toks) => match_tokens(toks, path),
        }
    }
}

/// Which patterns matched a directory, handed down to its children so a
/// walk does not re-test every ancestor (patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// An ordered list of exclude patterns and exceptions.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Builds a matcher from a list of patterns (one per element, as
    /// `COPY --exclude` gives them). Blank elements are skipped; a leading
    /// `/` is ignored. Errors report the 1-based position as the line.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        Self::from_numbered(
            patterns
                .iter()
                .enumerate()
                .map(|(i, p)| (i + 1, p.as_ref().to_string())),
        )
    }

    /// Builds a matcher from the text of a `.dockerignore` file.
    pub fn from_ignore_text(text: &str) -> Result<Self, PatternError> {
        Self::from_numbered(super::ignore::read_patterns(text).into_iter())
    }

    pub(crate) fn from_numbered(
        lines: impl Iterator<Item = (usize, String)>,
    ) -> Result<Self, PatternError> {
        let mut pm = PatternMatcher::default();
        for (line, raw) in lines {
            let err = |reason: &str| PatternError {
                pattern: raw.clone(),
                line,
                reason: reason.to_string(),
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut text = gopath::clean(trimmed);
            let exclusion = text.starts_with('!');
            if exclusion {
                if text.len() == 1 {
                    return Err(err("illegal exclusion pattern: \"!\""));
                }
                text.remove(0);
            }
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            glob::parse_go_glob(&text).map_err(err)?;
            let rule = compile(&text).map_err(err)?;
            pm.exclusions |= exclusion;
            pm.patterns.push(Pattern {
                literal: !text.contains(['*', '?', '[', '\\']),
                text,
                exclusion,
                rule,
            });
        }
        Ok(pm)
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (`!pattern`).
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The cleaned patterns in order, each with whether it is an exception.
    pub fn patterns(&self) -> impl Iterator<Item = (&str, bool)> {
        self.patterns.iter().map(|p| (p.text.as_str(), p.exclusion))
    }

    /// Whether the slash-separated relative `path` is excluded: the last
    /// pattern matching the path or one of its parent directories decides
    /// (patternmatcher's `MatchesOrParentMatches`).
    pub fn matches(&self, path: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            if p.matches(path) || parent_dirs(path).any(|dir| p.matches(dir)) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Like [`Self::matches`], for a walk: `parent` is the info returned for
    /// the parent directory (the default for entries at the top). Returns the
    /// verdict and the info to pass to this entry's children
    /// (patternmatcher's `MatchesUsingParentResults`, which fsutil's walker
    /// uses).
    pub fn matches_using_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let inherited = &parent.parent_matched;
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = inherited.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && inherited.is_empty() {
                    hit = parent_dirs(path).any(|dir| p.matches(dir));
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (
            matched,
            MatchInfo {
                parent_matched: info,
            },
        )
    }

    /// Whether some exception could re-include a path below the excluded
    /// directory `dir`, so a walk must still descend into it. Exact for
    /// literal exceptions, conservative (yes) for ones with wildcards.
    pub(crate) fn exception_may_match_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| !p.literal || format!("{}/", p.text).starts_with(&dir_slash))
    }
}

/// The proper ancestors of a relative path, shortest first: "a", "a/b" for
/// "a/b/c".
fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .filter(|dir| !dir.is_empty())
}

#[derive(PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Tokens,
}

/// Turns a cleaned pattern into its rule, following the way patternmatcher
/// classifies patterns (exact, prefix, suffix, or a full match).
fn compile(text: &str) -> Result<Rule, &'static str> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let (mut i, mut step) = (0, 0);
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i < chars.len() {
                    toks.push(Tok::AnyDirs);
                    kind = Kind::Tokens;
                } else if kind == Kind::Exact {
                    kind = Kind::Prefix;
                } else {
                    toks.push(Tok::AnyTail);
                    kind = Kind::Tokens;
                }
                if step == 0 {
                    kind = Kind::Suffix;
                }
            }
            '*' | '?' | '\\' | '[' | ']' => {
                i = compile_special(c, &chars, i, &mut toks)?;
                kind = Kind::Tokens;
            }
            other => toks.push(Tok::Lit(other)),
        }
        step += 1;
    }
    Ok(match kind {
        Kind::Exact => Rule::Exact(text.to_string()),
        Kind::Prefix => Rule::Prefix(text[..text.len() - 2].to_string()),
        Kind::Suffix => Rule::Suffix(text[2..].to_string()),
        Kind::Tokens => Rule::Tokens(toks),
    })
}

/// Compiles one of `* ? \ [ ]` (the `[` or escape may consume more
/// characters); returns the index after what was consumed.
fn compile_special(
    c: char,
    chars: &[char],
    mut i: usize,
    toks: &mut Vec<Tok>,
) -> Result<usize, &'static str> {
    match c {
        '*' => toks.push(Tok::Star),
        '?' => toks.push(Tok::Quest),
        '\\' => {
            let escaped = *chars.get(i).ok_or(BAD_PATTERN)?;
            i += 1;
            toks.push(Tok::Lit(escaped));
        }
        '[' => {
            let (class, next) = glob::parse_class(chars, i)?;
            // Docker hands the class to Go's regexp, which rejects `[z-a]`.
            if class.ranges.iter().any(|(lo, hi)| lo > hi) {
                return Err("invalid character class range");
            }
            toks.push(Tok::Class(class));
            i = next;
        }
        _ => toks.push(Tok::Lit(c)),
    }
    Ok(i)
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
