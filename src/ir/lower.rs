//! AST → build plan: stages, scoping of meta ARGs, stage references.
//! Per-instruction lowering lives in `commands`.

use super::commands::{lower_command, StageRefs};
use super::error::{LowerError, LowerErrorKind};
use super::flags::{Flags, FROM_FLAGS};
use super::plan::{ArgDecl, BuildPlan, Command, Stage, Step};
use super::suggest::closest;
use super::values::is_valid_stage_name;
use crate::dockerfile::{Args, Dockerfile, Instruction, Keyword, Span};

/// Lowers a parsed Dockerfile into a validated build plan.
pub fn lower(dockerfile: &Dockerfile) -> Result<BuildPlan, LowerError> {
    let mut plan = BuildPlan {
        syntax: dockerfile
            .directives
            .iter()
            .find(|d| d.name == "syntax")
            .map(|d| d.value.clone()),
        escape: dockerfile.escape,
        meta_args: Vec::new(),
        stages: Vec::new(),
    };
    // Stage names are collected first so a `--from` naming a later stage can
    // be told apart from an image name.
    let all_names = stage_names(dockerfile);
    for instruction in &dockerfile.instructions {
        check_known(instruction)?;
        match instruction.keyword {
            Keyword::From => {
                let stage = lower_from(instruction, &plan)?;
                plan.stages.push(stage);
            }
            _ if plan.stages.is_empty() => {
                let step = lower_step(instruction, &plan, &all_names)?;
                match step.command {
                    Command::Arg(args) => plan.meta_args.extend(args),
                    _ => {
                        return Err(LowerError::new(
                            LowerErrorKind::NoStage {
                                keyword: instruction.keyword.as_str().to_string(),
                            },
                            instruction.name.span,
                        ))
                    }
                }
            }
            _ => {
                let step = lower_step(instruction, &plan, &all_names)?;
                let stage = plan.stages.last_mut().expect("a stage exists");
                stage.steps.push(step);
            }
        }
    }
    if plan.stages.is_empty() {
        let span = dockerfile
            .instructions
            .last()
            .map_or_else(Span::default, |i| i.span);
        return Err(LowerError::new(LowerErrorKind::NoStages, span));
    }
    Ok(plan)
}

fn stage_names(dockerfile: &Dockerfile) -> Vec<String> {
    dockerfile
        .instructions
        .iter()
        .filter(|i| i.keyword == Keyword::From)
        .filter_map(|i| {
            let words = i.args.words();
            (words.len() == 3).then(|| words[2].text.to_ascii_lowercase())
        })
        .collect()
}

/// Unknown instruction words are errors, with a "did you mean" hint.
pub(super) fn check_known(instruction: &Instruction) -> Result<(), LowerError> {
    if instruction.keyword != Keyword::Unknown {
        return Ok(());
    }
    let word = instruction.name.text.clone();
    let suggestion = closest(&word, Keyword::ALL.iter().map(|k| k.as_str()));
    Err(LowerError::new(
        LowerErrorKind::UnknownInstruction { word, suggestion },
        instruction.name.span,
    ))
}

fn lower_step(
    instruction: &Instruction,
    plan: &BuildPlan,
    all_names: &[String],
) -> Result<Step, LowerError> {
    let refs = StageRefs {
        plan,
        all_names,
        current: plan.stages.len().checked_sub(1),
    };
    Ok(Step {
        command: lower_command(instruction, &refs)?,
        original: instruction.original.clone(),
        span: instruction.span,
    })
}

fn lower_from(instruction: &Instruction, plan: &BuildPlan) -> Result<Stage, LowerError> {
    let flags = Flags::parse(&instruction.flags, FROM_FLAGS, "FROM")?;
    let words = match &instruction.args {
        Args::Words(words) if words.len() == 1 || words.len() == 3 => words,
        _ => {
            return Err(LowerError::new(
                LowerErrorKind::ArgumentCount {
                    keyword: "FROM".into(),
                    expected: "either one or three arguments: FROM image [AS name]",
                },
                instruction.span,
            ))
        }
    };
    let name = match words.get(1..3) {
        Some([as_word, name]) => {
            if !as_word.text.eq_ignore_ascii_case("as") {
                return Err(LowerError::new(
                    LowerErrorKind::ExpectedAs {
                        got: as_word.text.clone(),
                    },
                    as_word.span,
                ));
            }
            let lower = name.text.to_ascii_lowercase();
            if !is_valid_stage_name(&lower) {
                return Err(LowerError::new(
                    LowerErrorKind::InvalidStageName {
                        name: name.text.clone(),
                    },
                    name.span,
                ));
            }
            Some(lower)
        }
        _ => None,
    };
    let base = words[0].text.clone();
    let base_stage = if base.contains('$') {
        None
    } else {
        let lower = base.to_ascii_lowercase();
        plan.stages
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
    };
    Ok(Stage {
        index: plan.stages.len(),
        name,
        base,
        base_stage,
        platform: flags.string("platform").map(|f| f.value.clone()),
        steps: Vec::new(),
        span: instruction.span,
    })
}

/// Meta ARG declarations, for callers that need them by name.
pub fn meta_arg<'a>(plan: &'a BuildPlan, name: &str) -> Option<&'a ArgDecl> {
    plan.meta_args.iter().rev().find(|a| a.name == name)
}
