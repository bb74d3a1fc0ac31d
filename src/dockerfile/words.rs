//! Word splitting used while parsing (not expansion): leading `--flags`, and the
//! quote-aware split of ENV, LABEL and ARG arguments. Quotes and escapes are
//! kept in ENV/LABEL/ARG words; expansion removes them later.

/// A word with its byte range in the string it was split from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawWord {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Whitespace as the reference lexer sees it (Go's `unicode.IsSpace`).
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Blank characters that separate words on an instruction line.
pub fn is_blank(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Splits `text` on runs of blanks, with byte ranges.
pub fn split_blanks(text: &str) -> Vec<RawWord> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_blank(c), start) {
            (true, Some(s)) => {
                words.push(RawWord {
                    text: text[s..i].to_string(),
                    start: s,
                    end: i,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push(RawWord {
            text: text[s..].to_string(),
            start: s,
            end: text.len(),
        });
    }
    words
}

/// Splits leading `--name[=value]` words off an argument string. Returns the
/// flags (quotes and `\` escapes removed; a bare `--` ends the flags and is
/// dropped) and the byte offset where the remaining arguments start.
pub fn extract_flags(line: &str) -> (Vec<RawWord>, usize) {
    let mut flags = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        // Skip blanks before the next word.
        while let Some(&(_, c)) = chars.peek() {
            if !is_space(c) {
                break;
            }
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else {
            return (flags, line.len());
        };
        if !line[start..].starts_with("--") {
            return (flags, start);
        }
        let (word, quoted, end) = read_flag_word(line, &mut chars);
        if word == "--" {
            // `--` ends the flags; arguments start after it.
            return (flags, end);
        }
        if quoted || !word.is_empty() {
            flags.push(RawWord {
                text: word,
                start,
                end,
            });
        }
        if end >= line.len() {
            return (flags, line.len());
        }
    }
}

/// Reads one flag word, handling quotes and backslash escapes. Returns the
/// word, whether it had quotes, and the byte offset just past it.
fn read_flag_word(
    line: &str,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> (String, bool, usize) {
    let mut word = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            None if is_space(c) => return (word, quoted, i),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            Some(q) if c == q => quote = None,
            _ if c == '\\' => match chars.next() {
                Some((_, next)) => word.push(next),
                // A trailing backslash is dropped (and closes an open quote).
                None => return (word, quoted, line.len()),
            },
            _ => word.push(c),
        }
    }
    (word, quoted, line.len())
}

/// The quote-aware split of ENV/LABEL/ARG arguments: words end at unquoted
/// whitespace; quotes and escape characters stay in the word.
pub fn parse_words(rest: &str, escape: char) -> Vec<RawWord> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start: Option<usize> = None;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        let Some(word_start) = start else {
            if is_space(c) {
                continue;
            }
            start = Some(pos);
            process_word_char(c, &mut word, &mut quote, &mut blank_ok, escape, &mut chars);
            continue;
        };
        if quote.is_none() && is_space(c) {
            if blank_ok || !word.is_empty() {
                words.push(RawWord {
                    text: std::mem::take(&mut word),
                    start: word_start,
                    end: pos,
                });
            }
            word.clear();
            start = None;
            blank_ok = false;
            continue;
        }
        process_word_char(c, &mut word, &mut quote, &mut blank_ok, escape, &mut chars);
    }
    if let Some(word_start) = start {
        if blank_ok || !word.is_empty() {
            words.push(RawWord {
                text: word,
                start: word_start,
                end: rest.len(),
            });
        }
    }
    words
}

/// One character inside a word (outside a word boundary).
fn process_word_char(
    c: char,
    word: &mut String,
    quote: &mut Option<char>,
    blank_ok: &mut bool,
    escape: char,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) {
    match *quote {
        None => {
            if c == '\'' || c == '"' {
                *quote = Some(c);
                *blank_ok = true;
            }
            if c == escape {
                // An escape keeps itself and the next character; at the end of
                // the text it is dropped.
                if let Some((_, next)) = chars.next() {
                    word.push(c);
                    word.push(next);
                }
                return;
            }
            word.push(c);
        }
        Some(q) => {
            if c == q {
                *quote = None;
            }
            // Inside single quotes the escape character is literal.
            if c == escape && q != '\'' {
                match chars.next() {
                    Some((_, next)) => {
                        word.push(c);
                        word.push(next);
                    }
                    None => *quote = None,
                }
                return;
            }
            word.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(words: &[RawWord]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn flags_stop_at_first_non_flag() {
        let line = "--from=a --chown=\"x y\" src dst";
        let (flags, rest) = extract_flags(line);
        assert_eq!(texts(&flags), ["--from=a", "--chown=x y"]);
        assert_eq!(&line[rest..], "src dst");
    }

    #[test]
    fn double_dash_ends_flags() {
        let line = "--x -- --y";
        let (flags, rest) = extract_flags(line);
        assert_eq!(texts(&flags), ["--x"]);
        assert_eq!(line[rest..].trim(), "--y");
    }

    #[test]
    fn words_keep_quotes() {
        let w = parse_words(r#"abc="123 456" def"#, '\\');
        assert_eq!(texts(&w), [r#"abc="123 456""#, "def"]);
        assert_eq!(w[1].start, 14);
    }

    #[test]
    fn words_escape_keeps_both() {
        let w = parse_words(r"a=b\ c d", '\\');
        assert_eq!(texts(&w), [r"a=b\ c", "d"]);
    }
}
