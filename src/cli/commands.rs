//! `rbuild parse`, `rbuild lint` and `rbuild build`.

use super::args::{BuildArgs, LintArgs, ParseArgs, ParseFormat};
use super::diagnostics::{parse_and_lower, render_warning};
use super::input::{read_dockerfile, DockerfileSource};
use super::Failure;
use crate::dockerfile::dump::dump;
use crate::ir::{BuildPlan, Command, CommandLine};
use crate::lint::{lint, LintReport};
use std::fmt::Write;

pub fn parse(args: ParseArgs) -> Result<i32, Failure> {
    let source = read_dockerfile(&args.file)?;
    let (df, plan) = parse_and_lower(&source)?;
    let format = match (args.format, args.json) {
        (Some(f), _) => f,
        (None, true) => ParseFormat::Json,
        (None, false) => ParseFormat::Text,
    };
    let out = match format {
        ParseFormat::Json => to_json(&plan)?,
        ParseFormat::Ast => to_json(&df)?,
        ParseFormat::BuildkitDump => dump(&df),
        ParseFormat::Text => summary(&plan),
    };
    print!("{out}");
    Ok(0)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| Failure::build(format!("error: encoding JSON: {e}")))
}

/// One line per stage and step.
fn summary(plan: &BuildPlan) -> String {
    let mut out = String::new();
    for arg in &plan.meta_args {
        let _ = writeln!(out, "ARG {}", arg.name);
    }
    for stage in &plan.stages {
        let name = stage
            .name
            .as_deref()
            .map(|n| format!(" AS {n}"))
            .unwrap_or_default();
        let _ = writeln!(out, "stage {}: FROM {}{name}", stage.index, stage.base);
        for step in &stage.steps {
            let _ = writeln!(
                out,
                "  {:>4}: {}",
                step.span.start.line,
                step_text(&step.command, &step.original)
            );
        }
    }
    out
}

fn step_text(command: &Command, original: &str) -> String {
    match command {
        Command::Cmd(CommandLine::Exec(args)) | Command::Entrypoint(CommandLine::Exec(args)) => {
            format!("{} {:?}", command.keyword(), args)
        }
        _ => original.to_string(),
    }
}

fn lint_source(source: &DockerfileSource) -> Result<(LintReport, String), Failure> {
    let (df, plan) = parse_and_lower(source)?;
    Ok((lint(&df, &plan), source.text()))
}

fn print_warnings(source: &DockerfileSource, report: &LintReport, text: &str) {
    if let Some((message, span)) = &report.config_error {
        let rendered = super::render::Report {
            level: super::render::Level::Warning,
            message: format!("invalid check directive: {message}"),
            span: Some(*span),
            hint: None,
            notes: Vec::new(),
            file: &source.name,
            source: text,
        }
        .render();
        eprint!("{rendered}");
    }
    for warning in &report.warnings {
        eprint!("{}", render_warning(source, text, warning));
    }
}

/// Exit 0 when clean, 1 when any check fired, 2 when the file is invalid.
pub fn lint_cmd(args: LintArgs) -> Result<i32, Failure> {
    let source = read_dockerfile(&args.file)?;
    let (report, text) = lint_source(&source)?;
    if args.json {
        print!("{}", to_json(&report.warnings)?);
    } else {
        print_warnings(&source, &report, &text);
        let n = report.warnings.len();
        eprintln!("{n} warning{} found", if n == 1 { "" } else { "s" });
    }
    Ok(if report.warnings.is_empty() { 0 } else { 1 })
}

/// Lints, builds and exports; lint warnings are printed first and fail the
/// build only under `# check=error=true`.
pub fn build(args: BuildArgs) -> Result<i32, Failure> {
    super::build_cmd::run(args, |source| {
        let (report, text) = lint_source(source)?;
        print_warnings(source, &report, &text);
        if report.config.error && !report.warnings.is_empty() {
            return Err(Failure::build(format!(
                "error: {} lint warning(s) and the Dockerfile sets `# check=error=true`",
                report.warnings.len()
            )));
        }
        Ok(())
    })
}
