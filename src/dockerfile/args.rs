//! Argument shapes of each instruction family, as BuildKit's parser reads them.

use super::ast::{Args, KeyValue, Keyword, Word};
use super::error::ParseErrorKind;
use super::line::LineCtx;
use super::words::{parse_words, split_blanks, RawWord};

/// The parsed arguments and whether they were a JSON array.
pub struct Parsed {
    pub args: Args,
    pub json: bool,
}

impl Parsed {
    fn plain(args: Args) -> Self {
        Parsed { args, json: false }
    }
}

/// `rest` is the argument text (trimmed) starting at byte `off` of the line.
pub fn parse_args(
    keyword: Keyword,
    ctx: &LineCtx,
    rest: &str,
    off: usize,
) -> Result<Parsed, (ParseErrorKind, usize, usize)> {
    match keyword {
        Keyword::Add | Keyword::Copy | Keyword::Volume => json_or_blank_list(ctx, rest, off),
        Keyword::Run | Keyword::Cmd | Keyword::Entrypoint | Keyword::Shell => {
            json_or_string(ctx, rest, off)
        }
        Keyword::Arg => Ok(Parsed::plain(words_or_empty(ctx, rest, off))),
        Keyword::Env | Keyword::Label => name_values(keyword, ctx, rest, off).map(Parsed::plain),
        Keyword::Expose | Keyword::From => Ok(Parsed::plain(blank_list(ctx, rest, off))),
        Keyword::Maintainer | Keyword::Stopsignal | Keyword::User | Keyword::Workdir => {
            Ok(Parsed::plain(whole_string(ctx, rest, off)))
        }
        Keyword::Healthcheck => health(ctx, rest, off),
        // ONBUILD is handled by the caller, which parses its inner instruction.
        Keyword::Onbuild | Keyword::Unknown => Ok(Parsed::plain(whole_string(ctx, rest, off))),
    }
}

fn whole_string(ctx: &LineCtx, rest: &str, off: usize) -> Args {
    if rest.is_empty() {
        return Args::Empty;
    }
    Args::Words(vec![ctx.word(rest.to_string(), off, off + rest.len())])
}

/// Split words placed at `off` in the line; no words is `Args::Empty`.
fn words_at(ctx: &LineCtx, raw: Vec<RawWord>, off: usize) -> Args {
    let words: Vec<Word> = raw
        .into_iter()
        .map(|w| ctx.word(w.text, off + w.start, off + w.end))
        .collect();
    if words.is_empty() {
        Args::Empty
    } else {
        Args::Words(words)
    }
}

fn blank_list(ctx: &LineCtx, rest: &str, off: usize) -> Args {
    words_at(ctx, split_blanks(rest), off)
}

fn words_or_empty(ctx: &LineCtx, rest: &str, off: usize) -> Args {
    words_at(ctx, parse_words(rest, ctx.escape), off)
}

/// A JSON array of strings. `None` when the text is not JSON at all; an error
/// when it is a JSON array holding something other than strings.
fn parse_json_array(rest: &str) -> Result<Option<Vec<String>>, ParseErrorKind> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(ParseErrorKind::JsonNotStrings),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn json_words(ctx: &LineCtx, items: Vec<String>, rest: &str, off: usize) -> Parsed {
    let words = items
        .into_iter()
        .map(|s| ctx.word(s, off, off + rest.len()))
        .collect::<Vec<_>>();
    Parsed {
        args: if words.is_empty() {
            Args::Empty
        } else {
            Args::Words(words)
        },
        json: true,
    }
}

fn json_error(kind: ParseErrorKind, rest: &str, off: usize) -> (ParseErrorKind, usize, usize) {
    (kind, off, off + rest.len())
}

/// RUN, CMD, ENTRYPOINT, SHELL: exec form, else the line as one shell string.
fn json_or_string(
    ctx: &LineCtx,
    rest: &str,
    off: usize,
) -> Result<Parsed, (ParseErrorKind, usize, usize)> {
    if rest.is_empty() {
        return Ok(Parsed::plain(Args::Empty));
    }
    match parse_json_array(rest).map_err(|k| json_error(k, rest, off))? {
        Some(items) => Ok(json_words(ctx, items, rest, off)),
        None => Ok(Parsed::plain(whole_string(ctx, rest, off))),
    }
}

/// ADD, COPY, VOLUME: a JSON array, else blank-separated words.
fn json_or_blank_list(
    ctx: &LineCtx,
    rest: &str,
    off: usize,
) -> Result<Parsed, (ParseErrorKind, usize, usize)> {
    match parse_json_array(rest).map_err(|k| json_error(k, rest, off))? {
        Some(items) => Ok(json_words(ctx, items, rest, off)),
        None => Ok(Parsed::plain(blank_list(ctx, rest, off))),
    }
}

/// ENV and LABEL: `k=v ...`, or the legacy `KEY name value` form whose value
/// is the rest of the line.
fn name_values(
    keyword: Keyword,
    ctx: &LineCtx,
    rest: &str,
    off: usize,
) -> Result<Args, (ParseErrorKind, usize, usize)> {
    let words = parse_words(rest, ctx.escape);
    let Some(first) = words.first() else {
        return Ok(Args::Empty);
    };
    if !first.text.contains('=') {
        let parts = split_blanks(rest);
        let Some(value_start) = parts.get(1).map(|p| p.start) else {
            return Err((
                ParseErrorKind::MissingValue {
                    keyword: keyword.as_str(),
                },
                off,
                off + rest.len(),
            ));
        };
        let key = &parts[0];
        return Ok(Args::Pairs(vec![KeyValue {
            key: ctx.word(key.text.clone(), off + key.start, off + key.end),
            value: ctx.word(
                rest[value_start..].to_string(),
                off + value_start,
                off + rest.len(),
            ),
            equals: false,
        }]));
    }
    let mut pairs = Vec::with_capacity(words.len());
    for w in words {
        let Some(eq) = w.text.find('=') else {
            return Err((
                ParseErrorKind::MissingEquals { word: w.text },
                off + w.start,
                off + w.end,
            ));
        };
        let key_end = off + w.start + eq;
        pairs.push(KeyValue {
            key: ctx.word(w.text[..eq].to_string(), off + w.start, key_end),
            value: ctx.word(w.text[eq + 1..].to_string(), key_end + 1, off + w.end),
            equals: true,
        });
    }
    Ok(Args::Pairs(pairs))
}

/// HEALTHCHECK: the type word, then a command parsed like CMD.
fn health(ctx: &LineCtx, rest: &str, off: usize) -> Result<Parsed, (ParseErrorKind, usize, usize)> {
    let type_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if type_end == 0 {
        return Ok(Parsed::plain(Args::Empty));
    }
    let after = &rest[type_end..];
    let cmd_start = type_end + (after.len() - after.trim_start().len());
    let kind = ctx.word(rest[..type_end].to_string(), off, off + type_end);
    let parsed = json_or_string(ctx, &rest[cmd_start..], off + cmd_start)?;
    Ok(Parsed {
        args: Args::Health {
            kind,
            command: parsed.args.words().to_vec(),
        },
        json: parsed.json,
    })
}
