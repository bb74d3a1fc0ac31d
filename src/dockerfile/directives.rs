//! Parser directives (`# syntax=`, `# escape=`, `# check=`): only in the leading
//! run of `# key=value` comment lines, each at most once.

use nom::bytes::complete::{tag, take_while};
use nom::character::complete::satisfy;
use nom::combinator::recognize;
use nom::{IResult, Parser};

/// The directive names BuildKit knows. Any other `# k=v` line ends the run.
const KNOWN: [&str; 3] = ["syntax", "escape", "check"];

/// Whitespace as the directive grammar sees it (RE2's `\s`).
fn is_directive_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn directive_name(input: &str) -> IResult<&str, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic()),
        take_while(|c: char| c.is_ascii_alphanumeric()),
    ))
    .parse(input)
}

/// `#` blanks name blanks `=`, returning the name and the text after `=`.
fn directive_head(input: &str) -> IResult<&str, &str> {
    let (rest, (_, _, name, _, _)) = (
        tag("#"),
        take_while(is_directive_space),
        directive_name,
        take_while(is_directive_space),
        tag("="),
    )
        .parse(input)?;
    Ok((rest, name))
}

/// Splits a directive line into (name as written, value). The value is the
/// text after `=` without surrounding blanks; a value of only blanks keeps its
/// last blank, as the reference grammar's lazy match does.
pub fn parse_directive_line(line: &str) -> Option<(&str, &str)> {
    let (after_eq, name) = directive_head(line).ok()?;
    let (value, _) = take_while::<_, &str, ()>(is_directive_space)
        .parse(after_eq)
        .ok()?;
    let value = if value.is_empty() {
        // All blanks (or nothing): the lazy `.+?` takes the last blank.
        let last = after_eq.char_indices().last()?;
        &after_eq[last.0..]
    } else {
        value.trim_end_matches(is_directive_space)
    };
    Some((name, value))
}

/// Tracks the leading directive run while lines are read.
#[derive(Debug, Clone)]
pub struct DirectiveState {
    done: bool,
    seen: Vec<String>,
}

/// What a line meant for the directive run.
#[derive(Debug, PartialEq)]
pub enum DirectiveLine<'a> {
    /// Not a directive (or the run is over).
    None,
    /// A known directive; the name is lower-cased.
    Directive { name: String, value: &'a str },
    /// A known directive given a second time.
    Duplicate { name: String },
}

impl Default for DirectiveState {
    fn default() -> Self {
        Self::new()
    }
}

impl DirectiveState {
    pub fn new() -> Self {
        DirectiveState {
            done: false,
            seen: Vec::new(),
        }
    }

    /// Feeds one line (newline and, on first lines, leading blanks removed).
    pub fn feed<'a>(&mut self, line: &'a str) -> DirectiveLine<'a> {
        if self.done {
            return DirectiveLine::None;
        }
        let Some((name, value)) = parse_directive_line(line) else {
            self.done = true;
            return DirectiveLine::None;
        };
        let name = name.to_ascii_lowercase();
        if !KNOWN.contains(&name.as_str()) {
            self.done = true;
            return DirectiveLine::None;
        }
        if self.seen.contains(&name) {
            return DirectiveLine::Duplicate { name };
        }
        self.seen.push(name.clone());
        DirectiveLine::Directive { name, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_lines() {
        assert_eq!(parse_directive_line("# escape=`"), Some(("escape", "`")));
        assert_eq!(
            parse_directive_line("#SYNTAX = a/b "),
            Some(("SYNTAX", "a/b"))
        );
        assert_eq!(parse_directive_line("# escape= "), Some(("escape", " ")));
        assert_eq!(parse_directive_line("# escape="), None);
        assert_eq!(parse_directive_line("# just a comment"), None);
        assert_eq!(parse_directive_line("#1x=2"), None);
    }

    #[test]
    fn run_ends_at_first_other_line() {
        let mut d = DirectiveState::new();
        assert!(matches!(
            d.feed("# syntax=x"),
            DirectiveLine::Directive { .. }
        ));
        assert!(matches!(
            d.feed("# syntax=y"),
            DirectiveLine::Duplicate { .. }
        ));
        assert_eq!(d.feed("# unknown=1"), DirectiveLine::None);
        assert_eq!(d.feed("# escape=`"), DirectiveLine::None);
    }
}
