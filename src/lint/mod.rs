//! Build checks: BuildKit's Dockerfile lint rules that need no image.
//!
//! The rules, their names and their message wording follow BuildKit
//! (`docker build --check`), so a `# check=skip=RuleName` directive written
//! for Docker means the same here. Checks come in two kinds:
//!
//! - `syntax`: rules about how the file is written (casing, stage names,
//!   deprecated forms), read straight off the syntax tree;
//! - `stages`: rules that need to follow each stage the way a build would
//!   (which variables are defined, whether a SHELL or WORKDIR came earlier),
//!   replayed without running anything.
//!
//! Where BuildKit would need the base image's configuration (its environment,
//! for `UndefinedVar`), the check is skipped for that stage rather than guessed.
//!
//! Warnings point at the word they are about (the stage name, the `$VAR`'s
//! word, the port) where there is one, and at the instruction keyword
//! otherwise; BuildKit reports whole-instruction line ranges.

mod config;
mod env;
mod expose;
mod from;
pub mod rules;
mod secrets;
mod stage_state;
mod stages;
mod steps;
mod syntax;

use crate::dockerfile::{Dockerfile, Span};
use crate::ir::BuildPlan;
use serde::Serialize;

pub use config::LintConfig;
pub use rules::Rule;

/// One check that fired.
#[derive(Debug, Clone, Serialize)]
pub struct LintWarning {
    /// The rule name, e.g. `UndefinedVar`.
    pub rule: &'static str,
    /// What is wrong here, worded as BuildKit words it.
    pub message: String,
    /// What the rule is for, in general.
    pub description: &'static str,
    /// The rule's documentation page.
    pub url: String,
    pub span: Span,
    /// How to fix it, when there is something more specific to say.
    pub hint: Option<String>,
}

/// Everything `lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    /// Sorted by position.
    pub warnings: Vec<LintWarning>,
    /// From the `# check=` directive (the default when it is absent or bad).
    pub config: LintConfig,
    /// A `# check=` directive that could not be read, with its location.
    pub config_error: Option<(String, Span)>,
}

/// Runs every check not skipped by the file's `# check=` directive.
/// Warnings are sorted by position.
pub fn lint(dockerfile: &Dockerfile, plan: &BuildPlan) -> LintReport {
    let (config, config_error) = LintConfig::from_dockerfile(dockerfile);
    let mut sink = Sink::new(&config);
    syntax::check(dockerfile, &mut sink);
    from::check(dockerfile, plan, &mut sink);
    stages::check(dockerfile, plan, &mut sink);
    let mut warnings = sink.warnings;
    // Stable, so warnings at one position keep the order the checks ran in.
    warnings.sort_by_key(|w| (w.span.start.line, w.span.start.column));
    LintReport {
        warnings,
        config,
        config_error,
    }
}

/// Collects warnings, dropping those of skipped rules.
pub(crate) struct Sink<'a> {
    config: &'a LintConfig,
    warnings: Vec<LintWarning>,
}

impl<'a> Sink<'a> {
    fn new(config: &'a LintConfig) -> Self {
        Sink {
            config,
            warnings: Vec::new(),
        }
    }

    /// Records that `rule` fired at `span`.
    pub(crate) fn report(
        &mut self,
        rule: &Rule,
        span: Span,
        message: String,
        hint: Option<String>,
    ) {
        if self.config.skips(rule.name) {
            return;
        }
        self.warnings.push(LintWarning {
            rule: rule.name,
            message,
            description: rule.description,
            url: rule.url(),
            span,
            hint,
        });
    }
}
