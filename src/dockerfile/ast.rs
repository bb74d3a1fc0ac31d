//! The syntax tree: close to the text, nothing resolved. Meaning (stages, typed
//! flags, expansion) is given in `ir`.

use super::span::Span;
use serde::Serialize;

/// A parsed Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct Dockerfile {
    /// The escape character in force (`\` unless `# escape=` says otherwise).
    pub escape: char,
    pub directives: Vec<Directive>,
    pub instructions: Vec<Instruction>,
    pub warnings: Vec<Warning>,
}

/// A parser directive from the leading comment run, e.g. `# syntax=...`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Directive {
    /// Lower-cased name: `syntax`, `escape` or `check`.
    pub name: String,
    pub value: String,
    pub span: Span,
}

/// Something the parser accepted but wants the user to know about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub message: String,
    pub span: Span,
}

/// A piece of text with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

/// The 18 Dockerfile instructions, plus any other word in instruction position
/// (kept so lowering can report it with a location and a hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keyword {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    Unknown,
}

impl Keyword {
    pub const ALL: [Keyword; 18] = [
        Keyword::Add,
        Keyword::Arg,
        Keyword::Cmd,
        Keyword::Copy,
        Keyword::Entrypoint,
        Keyword::Env,
        Keyword::Expose,
        Keyword::From,
        Keyword::Healthcheck,
        Keyword::Label,
        Keyword::Maintainer,
        Keyword::Onbuild,
        Keyword::Run,
        Keyword::Shell,
        Keyword::Stopsignal,
        Keyword::User,
        Keyword::Volume,
        Keyword::Workdir,
    ];

    /// Case-insensitive lookup; anything else is `Unknown`.
    pub fn from_word(word: &str) -> Keyword {
        Keyword::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(word))
            .unwrap_or(Keyword::Unknown)
    }

    /// The canonical upper-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
            Keyword::Unknown => "UNKNOWN",
        }
    }
}

/// One instruction: a logical line (continuations joined) and any heredoc
/// bodies that follow it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    pub keyword: Keyword,
    /// The keyword as written (its case is kept for the casing lint).
    pub name: Word,
    /// Leading `--name[=value]` words, quotes and escapes removed, `--` dropped.
    pub flags: Vec<Word>,
    pub args: Args,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    /// The logical line as joined from the source.
    pub original: String,
    pub heredocs: Vec<Heredoc>,
    /// Comment lines directly above the instruction, `#` and blanks removed.
    pub comments: Vec<String>,
    /// From the first character of the instruction to the end of its last line
    /// (heredoc bodies included).
    pub span: Span,
}

/// Arguments, shaped the way each instruction family reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Args {
    /// Nothing after the keyword (and flags).
    Empty,
    /// A list of words: JSON elements, blank-separated words, or the whole rest
    /// of the line as one word (shell form).
    Words(Vec<Word>),
    /// ENV and LABEL: `k=v` pairs, or the legacy `KEY name value` form.
    Pairs(Vec<KeyValue>),
    /// ONBUILD's wrapped instruction.
    OnBuild(Box<Instruction>),
    /// HEALTHCHECK: its type word (`CMD`, `NONE`) and the command after it.
    Health { kind: Word, command: Vec<Word> },
}

impl Args {
    pub fn words(&self) -> &[Word] {
        match self {
            Args::Words(w) => w,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyValue {
    pub key: Word,
    pub value: Word,
    /// `k=v` form (true) or the legacy `KEY k v` form (false).
    pub equals: bool,
}

/// A heredoc attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter word with quotes removed (`EOF` for `<<"EOF"`).
    pub name: String,
    /// File descriptor prefix (`3<<EOF`); 0 when absent.
    pub fd: u32,
    /// The delimiter was unquoted, so `$VAR` in the body is expanded.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from body lines and the terminator.
    pub chomp: bool,
    /// The body as written, newlines included, terminator excluded.
    pub content: String,
    pub span: Span,
}

impl Heredoc {
    /// The body as the build sees it: with `<<-`, leading tabs removed from
    /// every line.
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|line| line.trim_start_matches('\t'))
            .collect()
    }
}
