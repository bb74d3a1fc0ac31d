//! Checks on FROM lines, which expand with the global ARGs only:
//! UndefinedArgInFrom and RedundantTargetPlatform.

use super::env::{global_args, suggest};
use super::rules;
use super::Sink;
use crate::dockerfile::{Dockerfile, Keyword, Word};
use crate::ir::BuildPlan;
use crate::shell::{EnvList, EnvLookup, Expansion, Lexer};

struct FromScope {
    lexer: Lexer,
    globals: EnvList,
    /// Every global name, valued or not, in the order suggestions prefer.
    declared: Vec<String>,
}

pub(super) fn check(dockerfile: &Dockerfile, plan: &BuildPlan, sink: &mut Sink) {
    let lexer = Lexer::new(dockerfile.escape);
    let globals = global_args(plan, &lexer);
    let mut declared = globals.keys();
    for arg in &plan.meta_args {
        if !declared.contains(&arg.name) {
            declared.push(arg.name.clone());
        }
    }
    let scope = FromScope {
        lexer,
        globals,
        declared,
    };
    let froms = dockerfile
        .instructions
        .iter()
        .filter(|i| i.keyword == Keyword::From);
    for from in froms {
        if let Some(base) = from.args.words().first() {
            scope.undeclared(&base.text, base.span, sink);
        }
        if let Some((flag, value)) = platform_flag(&from.flags) {
            if let Some(expansion) = scope.undeclared(value, flag.span, sink) {
                scope.redundant_platform(value, &expansion, flag, sink);
            }
        }
    }
}

/// `--platform=VALUE` among a FROM's flags.
fn platform_flag(flags: &[Word]) -> Option<(&Word, &str)> {
    flags.iter().find_map(|flag| {
        let value = flag.text.strip_prefix("--platform=")?;
        Some((flag, value))
    })
}

impl FromScope {
    /// Expands `text` with the global ARGs and reports each name that no
    /// ARG before the first FROM declares.
    fn undeclared(
        &self,
        text: &str,
        span: crate::dockerfile::Span,
        sink: &mut Sink,
    ) -> Option<Expansion> {
        let expansion = self
            .lexer
            .process_word_with_matches(text, &self.globals)
            .ok()?;
        for name in &expansion.unmatched {
            if self.declared.contains(name) {
                continue;
            }
            let suggestion = suggest(name, self.declared.iter().map(String::as_str));
            sink.report(
                &rules::UNDEFINED_ARG_IN_FROM,
                span,
                rules::undefined_arg_in_from(name, suggestion),
                Some(format!(
                    "declare it with `ARG {name}` before the first FROM"
                )),
            );
        }
        Some(expansion)
    }

    /// `--platform=$TARGETPLATFORM` says what the build does anyway. Only
    /// reported when that variable alone made up the value.
    fn redundant_platform(&self, value: &str, expansion: &Expansion, flag: &Word, sink: &mut Sink) {
        let only_target = expansion.unmatched.is_empty()
            && expansion.matched.len() == 1
            && expansion.matched.contains("TARGETPLATFORM");
        if only_target && self.globals.get("TARGETPLATFORM") == Some(expansion.result.as_str()) {
            sink.report(
                &rules::REDUNDANT_TARGET_PLATFORM,
                flag.span,
                rules::redundant_target_platform(value),
                Some("remove the --platform flag".into()),
            );
        }
    }
}
