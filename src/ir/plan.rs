//! The typed build plan: stages of validated instructions. Values stay
//! unexpanded (`$VAR` is resolved when a step is dispatched, with the stage's
//! ARG/ENV at that point), but every flag and key is known to be valid.

use super::mount::MountSpec;
use crate::dockerfile::Span;
use serde::Serialize;

/// The whole Dockerfile, lowered.
#[derive(Debug, Clone, Serialize)]
pub struct BuildPlan {
    /// `# syntax=` directive, if any (recorded; rbuild has one frontend).
    pub syntax: Option<String>,
    pub escape: char,
    /// ARGs declared before the first FROM; usable in FROM lines.
    pub meta_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

impl BuildPlan {
    /// The stage called `name` (case-insensitive) or with that index.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        if let Ok(index) = name.parse::<usize>() {
            return (index < self.stages.len()).then_some(index);
        }
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub index: usize,
    /// Lower-cased `AS` name.
    pub name: Option<String>,
    /// The FROM reference as written (may contain `$VAR`).
    pub base: String,
    /// The earlier stage the FROM refers to, when the reference is literal.
    pub base_stage: Option<usize>,
    /// `--platform` as written.
    pub platform: Option<String>,
    pub steps: Vec<Step>,
    /// The FROM line.
    pub span: Span,
}

/// One instruction of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub command: Command,
    /// The instruction text as written (continuations joined).
    pub original: String,
    pub span: Span,
}

/// Exec form (JSON array) or shell form (one string run by the SHELL).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "form", content = "value", rename_all = "lowercase")]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    /// `ARG name=default`; `None` for a bare `ARG name`.
    pub default: Option<String>,
}

/// A heredoc body as a step uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeredocBody {
    pub name: String,
    pub fd: u32,
    /// Unquoted delimiter: `$VAR` in the body is expanded (COPY/ADD) or left to
    /// the shell (RUN).
    pub expand: bool,
    /// The body with `<<-` tab stripping applied.
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Sandbox,
    Insecure,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    pub mounts: Vec<MountSpec>,
    pub network: Option<NetworkMode>,
    pub security: Option<Security>,
    pub heredocs: Vec<HeredocBody>,
}

/// Where COPY/ADD sources come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CopySource {
    /// A path or glob in the context (or in `--from`), or an ADD URL.
    Path(String),
    /// A heredoc whose body becomes a file named after the delimiter.
    Heredoc(HeredocBody),
}

/// What `COPY --from` names. Resolved in lowering when it is literal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CopyFrom {
    Stage(usize),
    /// An image reference or named build context.
    Image(String),
}

/// `--chmod`: octal, or symbolic like chmod(1) (`u=rw,go-w`), kept as written
/// when it holds a variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Chmod {
    Octal(u32),
    Symbolic(String),
    Unexpanded(String),
}

/// COPY and ADD share one shape; `add` says which it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Copy {
    pub add: bool,
    pub sources: Vec<CopySource>,
    pub dest: String,
    pub from: Option<CopyFrom>,
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
    /// ADD only.
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    pub unpack: Option<bool>,
    /// The JSON form was used (no quote processing of sources).
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    None,
    Cmd {
        test: CommandLine,
        /// Durations in nanoseconds; `None` means inherit/default.
        interval: Option<u64>,
        timeout: Option<u64>,
        start_period: Option<u64>,
        start_interval: Option<u64>,
        retries: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "instruction", content = "args", rename_all = "lowercase")]
pub enum Command {
    Run(Run),
    Copy(Copy),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Label(Vec<KeyValue>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Shell(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    /// The trigger instruction, as written, run in a child build.
    Onbuild(String),
    Maintainer(String),
}

impl Command {
    /// The instruction keyword, upper-case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::Run(_) => "RUN",
            Command::Copy(c) if c.add => "ADD",
            Command::Copy(_) => "COPY",
            Command::Env(_) => "ENV",
            Command::Arg(_) => "ARG",
            Command::Label(_) => "LABEL",
            Command::Expose(_) => "EXPOSE",
            Command::Volume(_) => "VOLUME",
            Command::User(_) => "USER",
            Command::Workdir(_) => "WORKDIR",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Shell(_) => "SHELL",
            Command::Stopsignal(_) => "STOPSIGNAL",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Onbuild(_) => "ONBUILD",
            Command::Maintainer(_) => "MAINTAINER",
        }
    }
}
