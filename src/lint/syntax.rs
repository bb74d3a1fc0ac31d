//! Checks on how the file is written, read straight off the syntax tree:
//! casing, stage names, deprecated and legacy forms.

use super::rules;
use super::Sink;
use crate::dockerfile::{Args, Dockerfile, Instruction, Keyword, Word};
use std::collections::HashSet;

/// Stage names BuildKit gives a meaning of their own.
const RESERVED_STAGE_NAMES: [&str; 2] = ["context", "scratch"];

pub(super) fn check(dockerfile: &Dockerfile, sink: &mut Sink) {
    for warning in &dockerfile.warnings {
        // The parser's only warnings are empty continuation lines.
        sink.report(
            &rules::NO_EMPTY_CONTINUATION,
            warning.span,
            rules::no_empty_continuation(),
            Some("remove the empty line, or end the instruction before it".into()),
        );
    }
    let stage_part = stage_instructions(dockerfile);
    instruction_casing(stage_part, sink);
    stage_names(stage_part, sink);
    for instruction in stage_part {
        match instruction.keyword {
            Keyword::From => from_casing(instruction, sink),
            Keyword::Maintainer => maintainer(instruction, sink),
            Keyword::Env | Keyword::Label => legacy_key_value(instruction, sink),
            _ => {}
        }
    }
}

/// The instructions from the first FROM on. BuildKit's stage-wide checks
/// (casing, ENV/LABEL form) look at stages only, not at the ARGs before them.
fn stage_instructions(dockerfile: &Dockerfile) -> &[Instruction] {
    let first = dockerfile
        .instructions
        .iter()
        .position(|i| i.keyword == Keyword::From)
        .unwrap_or(dockerfile.instructions.len());
    &dockerfile.instructions[first..]
}

fn is_lower(s: &str) -> bool {
    s == s.to_lowercase()
}

fn is_upper(s: &str) -> bool {
    s == s.to_uppercase()
}

/// ConsistentInstructionCasing: keywords written all-lower or all-upper are
/// counted; every keyword not in the majority's casing is reported (ties go
/// to upper case, as in BuildKit).
fn instruction_casing(instructions: &[Instruction], sink: &mut Sink) {
    let names: Vec<&Word> = instructions.iter().map(|i| &i.name).collect();
    let lower = names.iter().filter(|w| is_lower(&w.text)).count();
    let upper = names
        .iter()
        .filter(|w| !is_lower(&w.text) && is_upper(&w.text))
        .count();
    let majority_lower = lower > upper;
    for name in names {
        let (casing, fixed) = if majority_lower {
            ("lowercase", name.text.to_lowercase())
        } else {
            ("uppercase", name.text.to_uppercase())
        };
        if name.text != fixed {
            sink.report(
                &rules::CONSISTENT_INSTRUCTION_CASING,
                name.span,
                rules::consistent_instruction_casing(&name.text, casing),
                Some(format!("write '{fixed}'")),
            );
        }
    }
}

/// `FROM image AS name`: the three words, when the line has that shape.
fn from_as_name(instruction: &Instruction) -> Option<(&Word, &Word)> {
    match instruction.args.words() {
        [_, as_word, name] => Some((as_word, name)),
        _ => None,
    }
}

/// StageNameCasing and FromAsCasing.
fn from_casing(instruction: &Instruction, sink: &mut Sink) {
    let Some((as_word, name)) = from_as_name(instruction) else {
        return;
    };
    if !is_lower(&name.text) {
        sink.report(
            &rules::STAGE_NAME_CASING,
            name.span,
            rules::stage_name_casing(&name.text),
            Some(format!("name the stage '{}'", name.text.to_lowercase())),
        );
    }
    // A FROM keyword in mixed case is ConsistentInstructionCasing's business;
    // BuildKit does not compare `as` against it.
    let from = &instruction.name.text;
    let expected = if is_lower(from) {
        as_word.text.to_lowercase()
    } else if is_upper(from) {
        as_word.text.to_uppercase()
    } else {
        return;
    };
    if as_word.text != expected {
        sink.report(
            &rules::FROM_AS_CASING,
            as_word.span,
            rules::from_as_casing(from, &as_word.text),
            Some(format!("write '{expected}' to match '{from}'")),
        );
    }
}

/// DuplicateStageName and ReservedStageName, on the lower-cased names.
fn stage_names(instructions: &[Instruction], sink: &mut Sink) {
    let mut seen = HashSet::new();
    let froms = instructions.iter().filter(|i| i.keyword == Keyword::From);
    for (_, name) in froms.filter_map(from_as_name) {
        let lower = name.text.to_lowercase();
        if RESERVED_STAGE_NAMES.contains(&lower.as_str()) {
            sink.report(
                &rules::RESERVED_STAGE_NAME,
                name.span,
                rules::reserved_stage_name(&lower),
                Some(format!("'{lower}' already means something in FROM and COPY --from; choose another name")),
            );
        }
        if !seen.insert(lower.clone()) {
            sink.report(
                &rules::DUPLICATE_STAGE_NAME,
                name.span,
                rules::duplicate_stage_name(&lower),
                Some("rename one of the stages".into()),
            );
        }
    }
}

fn maintainer(instruction: &Instruction, sink: &mut Sink) {
    sink.report(
        &rules::MAINTAINER_DEPRECATED,
        instruction.name.span,
        rules::maintainer_deprecated(),
        Some("use LABEL org.opencontainers.image.authors=\"...\" instead".into()),
    );
}

/// LegacyKeyValueFormat: `ENV key value` / `LABEL key value`.
fn legacy_key_value(instruction: &Instruction, sink: &mut Sink) {
    let Args::Pairs(pairs) = &instruction.args else {
        return;
    };
    let keyword = &instruction.name.text;
    for pair in pairs.iter().filter(|p| !p.equals) {
        sink.report(
            &rules::LEGACY_KEY_VALUE_FORMAT,
            pair.key.span,
            rules::legacy_key_value_format(keyword),
            Some(format!(
                "write {keyword} {}",
                key_equals_value(&pair.key.text, &pair.value.text)
            )),
        );
    }
}

/// The `key=value` spelling of a legacy pair, for the hint. The legacy value
/// is the rest of the line, so one with blanks needs quotes in the new form.
fn key_equals_value(key: &str, value: &str) -> String {
    let plain = !value
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'');
    if plain {
        format!("{key}={value}")
    } else if !value.contains(['"', '\\', '$']) {
        format!("{key}=\"{value}\"")
    } else {
        format!("{key}=<value>")
    }
}
