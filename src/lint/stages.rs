//! Replays each stage the way BuildKit's dispatcher walks it, without
//! running anything, for the checks that depend on what came before:
//! UndefinedVar, WorkdirRelativePath, JSONArgsRecommended,
//! MultipleInstructionsDisallowed, SecretsUsedInArgOrEnv and the EXPOSE rules.
//! The per-instruction steps are in `steps`.

use super::env::{global_args, suggest, KnownEnv};
use super::rules;
use super::stage_state::StageState;
use super::Sink;
use crate::dockerfile::{Dockerfile, Instruction, Keyword, Span};
use crate::ir::{BuildPlan, Stage};
use crate::shell::{EnvList, EnvLookup, Lexer};

/// The walk through one Dockerfile.
pub(super) struct Checker<'s, 'c> {
    pub sink: &'s mut Sink<'c>,
    /// Expands instruction words, with the file's escape character.
    pub lexer: Lexer,
    /// Expands COPY/ADD heredoc bodies: BuildKit leaves quotes in file
    /// contents alone and always escapes with `\`.
    pub raw_lexer: Lexer,
    /// Predefined and meta ARGs, which a bare `ARG NAME` in a stage takes.
    pub globals: EnvList,
    /// The stage being walked.
    pub state: StageState,
}

pub(super) fn check(dockerfile: &Dockerfile, plan: &BuildPlan, sink: &mut Sink) {
    let lexer = Lexer::new(dockerfile.escape);
    let mut raw_lexer = Lexer::new('\\');
    raw_lexer.skip_process_quotes = true;
    let mut checker = Checker {
        sink,
        globals: global_args(plan, &lexer),
        lexer,
        raw_lexer,
        state: StageState::unknown(),
    };
    let mut finished: Vec<StageState> = Vec::new();
    for (stage, instructions) in stage_groups(dockerfile, plan) {
        checker.state = StageState::start(stage, &finished);
        for instruction in instructions {
            checker.dispatch(instruction);
        }
        finished.push(checker.state.clone());
    }
}

/// Each stage of the plan with the instructions after its FROM line. The
/// plan was lowered from this file, so its stages match the FROM lines one
/// for one; should they not, the extra FROMs are left out rather than
/// attributed to the wrong stage.
fn stage_groups<'a>(
    dockerfile: &'a Dockerfile,
    plan: &'a BuildPlan,
) -> Vec<(&'a Stage, &'a [Instruction])> {
    let instructions = &dockerfile.instructions;
    let froms: Vec<usize> = (0..instructions.len())
        .filter(|&i| instructions[i].keyword == Keyword::From)
        .collect();
    froms
        .iter()
        .enumerate()
        .zip(&plan.stages)
        .map(|((n, &from), stage)| {
            let end = froms.get(n + 1).copied().unwrap_or(instructions.len());
            (stage, &instructions[from + 1..end])
        })
        .collect()
}

impl Checker<'_, '_> {
    fn dispatch(&mut self, instruction: &Instruction) {
        match instruction.keyword {
            Keyword::Env => self.env(instruction),
            Keyword::Label => self.label(instruction),
            Keyword::Arg => self.arg(instruction),
            Keyword::Copy | Keyword::Add => self.copy(instruction),
            Keyword::Workdir => self.workdir(instruction),
            Keyword::User | Keyword::Stopsignal | Keyword::Volume => {
                for word in instruction.args.words() {
                    self.expand(&word.text, word.span);
                }
            }
            Keyword::Expose => self.expose(instruction),
            Keyword::Cmd | Keyword::Entrypoint => {
                self.once(instruction);
                self.json_args(instruction);
            }
            Keyword::Healthcheck => self.once(instruction),
            Keyword::Shell => self.state.shell_set = true,
            Keyword::Onbuild => self.state.has_onbuild = true,
            // RUN is expanded by its shell, not by the builder; the rest
            // take no variables.
            _ => {}
        }
    }

    /// Expands `text` as BuildKit expands an instruction word, reporting
    /// each undefined variable at `span`. `None` when the stage's environment
    /// is unknown. A word that does not expand (a build error, not a lint
    /// matter) yields its text unchanged.
    pub fn expand(&mut self, text: &str, span: Span) -> Option<String> {
        let lexer = self.lexer.clone();
        self.expand_with(&lexer, text, span)
    }

    pub fn expand_with(&mut self, lexer: &Lexer, text: &str, span: Span) -> Option<String> {
        let env = self.state.env.as_ref()?;
        let Ok(expansion) = lexer.process_word_with_matches(text, &env.vars) else {
            return Some(text.to_string());
        };
        let undefined: Vec<&String> = expansion
            .unmatched
            .iter()
            .filter(|name| !env.defines(name))
            .collect();
        if !undefined.is_empty() {
            let env = env.clone();
            for name in undefined {
                self.report_undefined(&env, name, span);
            }
        }
        Some(expansion.result)
    }

    fn report_undefined(&mut self, env: &KnownEnv, name: &str, span: Span) {
        let keys = env.vars.keys();
        let suggestion = suggest(name, keys.iter().map(String::as_str));
        self.sink.report(
            &rules::UNDEFINED_VAR,
            span,
            rules::undefined_var(name, suggestion),
            Some(format!(
                "declare it with ARG or ENV earlier in the stage, or escape it as \\${name}"
            )),
        );
    }

    /// The value of a word that must be read even where the environment is
    /// unknown: expanded when it can be, as written (quotes removed) when it
    /// holds no variable, `None` when its value depends on the base image.
    pub fn value_of(&mut self, text: &str, span: Span) -> Option<String> {
        if self.state.env.is_some() {
            return self.expand(text, span);
        }
        if text.contains('$') {
            return None;
        }
        self.lexer.process_word(text, &EnvList::new()).ok()
    }

    /// The fields a word splits into (EXPOSE), without reporting: BuildKit
    /// does not check EXPOSE for undefined variables.
    pub fn fields_of(&self, text: &str) -> Option<Vec<String>> {
        match &self.state.env {
            Some(env) => self.lexer.process_words(text, &env.vars).ok(),
            None if text.contains('$') => None,
            None => self.lexer.process_words(text, &EnvList::new()).ok(),
        }
    }
}
