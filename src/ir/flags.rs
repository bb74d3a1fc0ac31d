//! Instruction flags (`--name[=value]`), checked against what each
//! instruction accepts, with BuildKit's rules: booleans take no value or
//! true/false, strings need a value, repeatable flags collect every value.

use super::error::{LowerError, LowerErrorKind};
use super::suggest::closest;
use crate::dockerfile::{Span, Word};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    Bool,
    String,
    Repeated,
}

/// The flags one instruction accepts.
pub type FlagSpec = &'static [(&'static str, FlagKind)];

pub const FROM_FLAGS: FlagSpec = &[("platform", FlagKind::String)];
pub const RUN_FLAGS: FlagSpec = &[
    ("mount", FlagKind::Repeated),
    ("network", FlagKind::String),
    ("security", FlagKind::String),
];
pub const COPY_FLAGS: FlagSpec = &[
    ("from", FlagKind::String),
    ("chown", FlagKind::String),
    ("chmod", FlagKind::String),
    ("link", FlagKind::Bool),
    ("parents", FlagKind::Bool),
    ("exclude", FlagKind::Repeated),
];
pub const ADD_FLAGS: FlagSpec = &[
    ("chown", FlagKind::String),
    ("chmod", FlagKind::String),
    ("link", FlagKind::Bool),
    ("exclude", FlagKind::Repeated),
    ("checksum", FlagKind::String),
    ("keep-git-dir", FlagKind::Bool),
    ("unpack", FlagKind::Bool),
];
pub const HEALTHCHECK_FLAGS: FlagSpec = &[
    ("interval", FlagKind::String),
    ("timeout", FlagKind::String),
    ("start-period", FlagKind::String),
    ("start-interval", FlagKind::String),
    ("retries", FlagKind::String),
];
pub const NO_FLAGS: FlagSpec = &[];

/// One flag value with the span of the word it came from.
#[derive(Debug, Clone)]
pub struct FlagValue {
    pub value: String,
    pub span: Span,
}

/// Parsed flags of one instruction.
#[derive(Debug, Default)]
pub struct Flags {
    values: Vec<(&'static str, FlagValue)>,
}

impl Flags {
    pub fn parse(words: &[Word], spec: FlagSpec, keyword: &str) -> Result<Flags, LowerError> {
        let mut flags = Flags::default();
        for word in words {
            let err = |kind| LowerError::new(kind, word.span);
            let Some(body) = word.text.strip_prefix("--") else {
                return Err(err(LowerErrorKind::FlagWithoutDashes {
                    word: word.text.clone(),
                }));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(known, kind)) = spec.iter().find(|(n, _)| *n == name) else {
                let valid: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
                return Err(err(LowerErrorKind::UnknownFlag {
                    keyword: keyword.to_string(),
                    flag: name.to_string(),
                    suggestion: closest(name, valid.iter().copied()).map(str::to_string),
                    valid: valid.iter().map(|v| format!("--{v}")).collect(),
                }));
            };
            if kind != FlagKind::Repeated && flags.values.iter().any(|(n, _)| *n == known) {
                return Err(err(LowerErrorKind::DuplicateFlag {
                    flag: name.to_string(),
                }));
            }
            let value = match (kind, value) {
                (FlagKind::Bool, None) => "true".to_string(),
                (FlagKind::Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".into(),
                (FlagKind::Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".into(),
                (FlagKind::Bool, Some("")) | (_, None) => {
                    return Err(err(LowerErrorKind::FlagMissingValue {
                        flag: name.to_string(),
                    }))
                }
                (FlagKind::Bool, Some(v)) => {
                    return Err(err(LowerErrorKind::FlagNotBool {
                        flag: name.to_string(),
                        value: v.to_string(),
                    }))
                }
                (_, Some(v)) => v.to_string(),
            };
            flags.values.push((
                known,
                FlagValue {
                    value,
                    span: word.span,
                },
            ));
        }
        Ok(flags)
    }

    pub fn string(&self, name: &str) -> Option<&FlagValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.string(name).is_some_and(|v| v.value == "true")
    }

    /// A boolean flag that was given at all (`Some(false)` for `--x=false`).
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v.value == "true")
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a FlagValue> + 'a {
        self.values
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}
