//! The line-level parser: joins continuation lines, reads directives and
//! heredoc bodies, and turns each logical line into an [`Instruction`].
//!
//! The rules follow BuildKit's frontend so that every Dockerfile it accepts
//! parses the same way here (the conformance tests pin this).

use super::args::parse_args;
use super::ast::{Args, Directive, Dockerfile, Heredoc, Instruction, Keyword, Warning};
use super::directives::{DirectiveLine, DirectiveState};
use super::error::{ParseError, ParseErrorKind};
use super::heredoc::markers_in_line;
use super::line::{is_comment, strip_continuation, trim_newline, LineCtx, PhysicalLines};
use super::span::{LineIndex, LogicalLineMap, Span};
use super::words::{extract_flags, is_blank};

/// Parses Dockerfile bytes; invalid UTF-8 is an error with its location.
pub fn parse_bytes(bytes: &[u8]) -> Result<Dockerfile, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // SAFETY-free: `valid_up_to` marks the longest valid prefix.
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let index = LineIndex::new(prefix);
            let pos = index.position(prefix, prefix.len());
            Err(ParseError::new(
                ParseErrorKind::InvalidUtf8 {
                    offset: e.valid_up_to(),
                },
                Span::new(pos, pos),
            ))
        }
    }
}

/// Parses Dockerfile text.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    Parser::new(text).run()
}

struct Parser<'a> {
    text: &'a str,
    index: LineIndex,
    lines: PhysicalLines<'a>,
    directive_state: DirectiveState,
    escape: char,
    /// Number of physical lines consumed so far.
    line_no: usize,
    directives: Vec<Directive>,
    instructions: Vec<Instruction>,
    warnings: Vec<Warning>,
    comments: Vec<String>,
}

/// A logical line: the joined text, where its pieces came from, and the
/// source range it covers.
struct Logical {
    text: String,
    map: LogicalLineMap,
    start: usize,
    end: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            index: LineIndex::new(text),
            lines: PhysicalLines::new(text),
            directive_state: DirectiveState::new(),
            escape: '\\',
            line_no: 0,
            directives: Vec::new(),
            instructions: Vec::new(),
            warnings: Vec::new(),
            comments: Vec::new(),
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        self.index.span(self.text, start, end)
    }

    fn run(mut self) -> Result<Dockerfile, ParseError> {
        while let Some((start, raw)) = self.lines.next() {
            let Some(logical) = self.read_logical_line(start, raw)? else {
                continue;
            };
            let instruction = self.instruction(logical)?;
            self.instructions.push(instruction);
            self.comments.clear();
        }
        if self.instructions.is_empty() {
            let end = self.span(self.text.len(), self.text.len());
            return Err(ParseError::new(ParseErrorKind::NoInstructions, end));
        }
        Ok(Dockerfile {
            escape: self.escape,
            directives: self.directives,
            instructions: self.instructions,
            warnings: self.warnings,
        })
    }

    /// Reads one physical line and any continuation lines after it. `None`
    /// for blank and comment lines.
    fn read_logical_line(
        &mut self,
        mut start: usize,
        mut raw: &'a str,
    ) -> Result<Option<Logical>, ParseError> {
        if self.line_no == 0 {
            if let Some(rest) = raw.strip_prefix('\u{feff}') {
                raw = rest;
                start += '\u{feff}'.len_utf8();
            }
        }
        if is_comment(raw) {
            let comment = raw
                .trim_start()
                .strip_prefix('#')
                .unwrap_or_default()
                .trim();
            if comment.is_empty() {
                self.comments.clear();
            } else {
                self.comments.push(comment.to_string());
            }
        }
        let line = trim_newline(raw);
        let trimmed = line.trim_start();
        let content_start = start + (line.len() - trimmed.len());
        self.directive(trimmed, content_start)?;
        self.line_no += 1;

        let processed = if trimmed.starts_with('#') {
            ""
        } else {
            trimmed
        };
        let (first, mut continues) = strip_continuation(processed, self.escape);
        if !continues && first.is_empty() {
            return Ok(None);
        }
        let mut logical = Logical {
            text: first.to_string(),
            map: LogicalLineMap::default(),
            start: content_start,
            end: start + line.len(),
        };
        logical.map.push(0, content_start, first.len());

        let mut has_empty_line = false;
        while continues {
            let Some((start, raw)) = self.lines.next() else {
                break;
            };
            self.line_no += 1;
            let line = trim_newline(raw);
            logical.end = start + line.len();
            if is_comment(raw) {
                continue;
            }
            if line.trim_start().is_empty() {
                has_empty_line = true;
                continue;
            }
            let (part, more) = strip_continuation(line, self.escape);
            logical.map.push(logical.text.len(), start, part.len());
            logical.text.push_str(part);
            continues = more;
        }
        if has_empty_line {
            self.warnings.push(Warning {
                message: "empty continuation line".into(),
                span: self.span(logical.start, logical.end),
            });
        }
        Ok(Some(logical))
    }

    /// Applies a possible parser directive on a leading comment line.
    fn directive(&mut self, line: &str, offset: usize) -> Result<(), ParseError> {
        match self.directive_state.feed(line) {
            DirectiveLine::None => Ok(()),
            DirectiveLine::Duplicate { name } => Err(ParseError::new(
                ParseErrorKind::DuplicateDirective { name },
                self.span(offset, offset + line.len()),
            )),
            DirectiveLine::Directive { name, value } => {
                let span = self.span(offset, offset + line.len());
                if name == "escape" {
                    self.escape = match value {
                        "\\" => '\\',
                        "`" => '`',
                        _ => {
                            return Err(ParseError::new(
                                ParseErrorKind::InvalidEscape {
                                    value: value.to_string(),
                                },
                                span,
                            ))
                        }
                    };
                }
                self.directives.push(Directive {
                    name,
                    value: value.to_string(),
                    span,
                });
                Ok(())
            }
        }
    }

    fn instruction(&mut self, logical: Logical) -> Result<Instruction, ParseError> {
        let ctx = LineCtx {
            text: self.text,
            index: &self.index,
            map: &logical.map,
            escape: self.escape,
        };
        let mut instruction = instruction_from_line(&ctx, &logical.text, 0)
            .map_err(|(kind, lo, hi)| ParseError::new(kind, ctx.span(lo, hi)))?;
        instruction.comments = std::mem::take(&mut self.comments);
        let mut end = logical.end;
        if can_contain_heredoc(&instruction) {
            let markers = markers_in_line(&logical.text).map_err(|e| {
                ParseError::new(
                    ParseErrorKind::HeredocDelimiter(e.to_string()),
                    self.span(logical.start, logical.end),
                )
            })?;
            for marker in markers {
                let (content, body_start, body_end) =
                    self.read_heredoc_body(&marker.name, marker.chomp, logical.start)?;
                end = body_end;
                instruction.heredocs.push(Heredoc {
                    name: marker.name,
                    fd: marker.fd,
                    expand: marker.expand,
                    chomp: marker.chomp,
                    content,
                    span: self.span(body_start, body_end),
                });
            }
        }
        instruction.span = self.span(logical.start, end);
        Ok(instruction)
    }

    /// Reads heredoc body lines up to the terminator line. Returns the body
    /// and the source range from the body's start to the terminator's end.
    fn read_heredoc_body(
        &mut self,
        name: &str,
        chomp: bool,
        instruction_start: usize,
    ) -> Result<(String, usize, usize), ParseError> {
        let mut content = String::new();
        let mut body_start = None;
        for (start, raw) in self.lines.by_ref() {
            self.line_no += 1;
            body_start.get_or_insert(start);
            let mut candidate = trim_newline(raw);
            if chomp {
                candidate = candidate.trim_start_matches('\t');
            }
            if candidate == name {
                let end = start + trim_newline(raw).len();
                return Ok((content, body_start.unwrap_or(start), end));
            }
            content.push_str(raw);
        }
        Err(ParseError::new(
            ParseErrorKind::UnterminatedHeredoc {
                name: name.to_string(),
            },
            self.span(instruction_start, self.text.len()),
        ))
    }
}

/// RUN (shell form), COPY and ADD take heredocs, also under ONBUILD.
fn can_contain_heredoc(instruction: &Instruction) -> bool {
    let target = match &instruction.args {
        Args::OnBuild(inner) if instruction.keyword == Keyword::Onbuild => inner,
        _ => instruction,
    };
    matches!(target.keyword, Keyword::Run | Keyword::Copy | Keyword::Add) && !target.json
}

/// Splits `KEYWORD [--flags] args` and parses the arguments. `off` is where
/// `line` starts in the logical line. Errors carry a logical-line range.
fn instruction_from_line(
    ctx: &LineCtx,
    line: &str,
    off: usize,
) -> Result<Instruction, (ParseErrorKind, usize, usize)> {
    let trimmed_start = line.trim_start();
    let off = off + (line.len() - trimmed_start.len());
    let line = trimmed_start.trim_end();
    let name_end = line.find(is_blank).unwrap_or(line.len());
    let name = &line[..name_end];
    let after_name = &line[name_end..];
    let rest_start = name_end + (after_name.len() - after_name.trim_start_matches(is_blank).len());
    let rest = &line[rest_start..];

    let (raw_flags, args_at) = extract_flags(rest);
    let flags = raw_flags
        .into_iter()
        .map(|f| ctx.word(f.text, off + rest_start + f.start, off + rest_start + f.end))
        .collect();
    let args_raw = &rest[args_at..];
    let args_text = args_raw.trim();
    let args_off = off + rest_start + args_at + (args_raw.len() - args_raw.trim_start().len());

    let keyword = Keyword::from_word(name);
    let (args, json) = if keyword == Keyword::Onbuild && !args_text.is_empty() {
        let inner = instruction_from_line(ctx, args_text, args_off)?;
        (Args::OnBuild(Box::new(inner)), false)
    } else {
        let parsed = parse_args(keyword, ctx, args_text, args_off)?;
        (parsed.args, parsed.json)
    };
    Ok(Instruction {
        keyword,
        name: ctx.word(name.to_string(), off, off + name_end),
        flags,
        args,
        json,
        original: line.to_string(),
        heredocs: Vec::new(),
        comments: Vec::new(),
        span: ctx.span(off, off + line.len()),
    })
}
