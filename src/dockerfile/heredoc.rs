//! Finding heredoc markers (`<<EOF`, `<<-EOF`, `3<<"EOF"`) on an instruction line.

use crate::shell::{EnvList, Lexer, ShellError};
use nom::bytes::complete::{tag, take_while};
use nom::combinator::{eof, opt};
use nom::{IResult, Parser};

/// A heredoc marker found on a line; its body is read by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub name: String,
    pub fd: u32,
    pub expand: bool,
    pub chomp: bool,
}

/// `digits? "<<" "-"? rest` where rest has no `<`.
fn marker_parts(word: &str) -> IResult<&str, (&str, bool, &str)> {
    let (input, (fd, _, dash, rest, _)) = (
        take_while(|c: char| c.is_ascii_digit()),
        tag("<<"),
        opt(tag("-")),
        take_while(|c: char| c != '<'),
        eof,
    )
        .parse(word)?;
    Ok((input, (fd, dash.is_some(), rest)))
}

/// Parses one shell word as a heredoc marker. `Ok(None)` when it is not one.
pub fn parse_marker(word: &str) -> Result<Option<Marker>, ShellError> {
    let Ok((_, (fd, chomp, rest))) = marker_parts(word) else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let env = EnvList(Vec::new());
    let mut lexer = Lexer::new('\\');
    lexer.skip_unset_env = true;
    let words = lexer.process_words(rest, &env)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    // Lexing again with quotes kept tells whether any part was quoted: a
    // quoted delimiter turns off expansion of the body.
    lexer.raw_quotes = true;
    let raw = lexer.process_words(rest, &env)?;
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = raw.len() == 1 && quotes(name) == quotes(&raw[0]);
    Ok(Some(Marker {
        name: name.clone(),
        fd: fd.parse().unwrap_or(0),
        expand,
        chomp,
    }))
}

/// Every heredoc marker on a logical line, in order.
pub fn markers_in_line(line: &str) -> Result<Vec<Marker>, ShellError> {
    if !line.contains("<<") {
        return Ok(Vec::new());
    }
    let mut lexer = Lexer::new('\\');
    lexer.raw_quotes = true;
    lexer.raw_escapes = true;
    lexer.skip_unset_env = true;
    // A line the shell lexer cannot split has no heredocs (as in BuildKit).
    let Ok(words) = lexer.process_words(line, &EnvList(Vec::new())) else {
        return Ok(Vec::new());
    };
    let mut markers = Vec::new();
    for word in &words {
        if let Some(marker) = parse_marker(word)? {
            markers.push(marker);
        }
    }
    Ok(markers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let m = markers_in_line("RUN 3<<EOF cat <<-\"END\" x").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].name.as_str(), m[0].fd, m[0].expand), ("EOF", 3, true));
        assert_eq!(
            (m[1].name.as_str(), m[1].chomp, m[1].expand),
            ("END", true, false)
        );
        assert!(markers_in_line("RUN echo a<<b").unwrap().is_empty());
        assert!(markers_in_line("RUN <<").unwrap().is_empty());
    }
}
