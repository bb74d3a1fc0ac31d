//! Lowering errors: what is wrong, where (a span in the Dockerfile), and a
//! hint where one helps.

use super::mount::MountError;
use crate::dockerfile::Span;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LowerErrorKind {
    #[error("unknown instruction: {word}")]
    UnknownInstruction {
        word: String,
        suggestion: Option<&'static str>,
    },
    #[error("no build stage in current context: {keyword} must come after FROM")]
    NoStage { keyword: String },
    #[error("dockerfile contains no stages to build")]
    NoStages,
    #[error("{keyword} requires {expected}")]
    ArgumentCount {
        keyword: String,
        expected: &'static str,
    },
    #[error("FROM expects `AS` before a stage name, got {got:?}")]
    ExpectedAs { got: String },
    #[error(
        "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
    )]
    InvalidStageName { name: String },
    #[error("arg should start with -- : {word}")]
    FlagWithoutDashes { word: String },
    #[error("unknown flag: --{flag}")]
    UnknownFlag {
        keyword: String,
        flag: String,
        suggestion: Option<String>,
        valid: Vec<String>,
    },
    #[error("duplicate flag specified: --{flag}")]
    DuplicateFlag { flag: String },
    #[error("missing a value on flag: --{flag}")]
    FlagMissingValue { flag: String },
    #[error("expecting boolean value for flag --{flag}, not: {value}")]
    FlagNotBool { flag: String, value: String },
    #[error(
        "invalid chmod parameter: {value:?}. it should be octal string and between 0 and 07777"
    )]
    InvalidChmod { value: String },
    #[error("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    FromWithVariable,
    #[error(
        "cannot copy from stage {from:?}, it needs to be defined before current stage {current:?}"
    )]
    StageDefinedLater { from: String, current: String },
    #[error("network mode {value:?} not supported")]
    InvalidNetwork { value: String },
    #[error("security mode {value:?} not supported")]
    InvalidSecurity { value: String },
    #[error("{0}")]
    Mount(#[from] MountError),
    #[error("SHELL requires the arguments to be in JSON form")]
    ShellNotJson,
    #[error("Unknown type {kind:?} in HEALTHCHECK (try CMD)")]
    HealthcheckType { kind: String },
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArgs,
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckNoCommand,
    #[error("invalid duration {value:?} for --{flag}: {reason}")]
    InvalidDuration {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid --retries value {value:?}: must be a whole number of 0 or more")]
    InvalidRetries { value: String },
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    #[error("{keyword} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger { keyword: String },
    #[error("heredoc {name:?} is referenced but not defined")]
    MissingHeredoc { name: String },
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("invalid ARG name {name:?}")]
    InvalidArgName { name: String },
    #[error("{keyword} names must not be empty")]
    EmptyKey { keyword: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct LowerError {
    /// Boxed: kinds carry suggestions and lists, and errors travel through
    /// every lowering function's `Result`.
    pub kind: Box<LowerErrorKind>,
    pub span: Span,
}

impl LowerError {
    pub fn new(kind: LowerErrorKind, span: Span) -> Self {
        LowerError {
            kind: Box::new(kind),
            span,
        }
    }

    pub fn hint(&self) -> Option<String> {
        use LowerErrorKind as K;
        match self.kind.as_ref() {
            K::UnknownInstruction {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean {s}?")),
            K::UnknownInstruction { .. } => Some(
                "instructions are ADD, ARG, CMD, COPY, ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR".into(),
            ),
            K::UnknownFlag {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean --{s}?")),
            K::UnknownFlag { keyword, valid, .. } if valid.is_empty() => {
                Some(format!("{keyword} takes no flags"))
            }
            K::UnknownFlag { keyword, valid, .. } => {
                Some(format!("{keyword} accepts {}", valid.join(", ")))
            }
            K::NoStage { .. } => Some("start the Dockerfile with `FROM image` (only ARG may come before it)".into()),
            K::Mount(m) => m.hint(),
            K::FromWithVariable => Some("`FROM ${IMAGE} AS src` then `COPY --from=src ...`".into()),
            K::ShellNotJson => Some("write SHELL [\"/bin/bash\", \"-c\"]".into()),
            K::InvalidChmod { .. } => Some("use an octal mode like 0644 or 755, or a symbolic one like u=rw,go=r".into()),
            _ => None,
        }
    }
}
