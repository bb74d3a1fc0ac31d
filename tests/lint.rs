//! Build checks (`rbuild lint`): each BuildKit rule fires where BuildKit's
//! fires, with its wording, at a pinned line:column; `# check=` silences
//! them; a clean Dockerfile and the real-world corpus stay quiet where they
//! should.

#[path = "common/skip.rs"]
mod skip;
use rbuild::lint::{lint, LintReport, LintWarning};
use std::path::{Path, PathBuf};

fn lint_text(text: &str) -> LintReport {
    let dockerfile = rbuild::dockerfile::parse(text).expect("test Dockerfile parses");
    let plan = rbuild::ir::lower(&dockerfile).expect("test Dockerfile lowers");
    lint(&dockerfile, &plan)
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lint")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (rule, message, "line:column") of every warning.
fn found(report: &LintReport) -> Vec<(&'static str, String, String)> {
    report.warnings.iter().map(summary).collect()
}

fn summary(w: &LintWarning) -> (&'static str, String, String) {
    let at = format!("{}:{}", w.span.start.line, w.span.start.column);
    (w.rule, w.message.clone(), at)
}

/// The warnings of one rule, as (message, "line:column").
fn of_rule(text: &str, rule: &str) -> Vec<(String, String)> {
    found(&lint_text(text))
        .into_iter()
        .filter(|(r, _, _)| *r == rule)
        .map(|(_, message, at)| (message, at))
        .collect()
}

fn one(message: &str, at: &str) -> Vec<(String, String)> {
    vec![(message.to_string(), at.to_string())]
}

#[test]
fn json_args_recommended_for_shell_form_cmd_and_entrypoint() {
    let text = "FROM alpine\nCMD echo hi\nENTRYPOINT my-app --flag\n";
    let expected = vec![
        (
            "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals".to_string(),
            "2:1".to_string(),
        ),
        (
            "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals".to_string(),
            "3:1".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "JSONArgsRecommended"), expected);
}

#[test]
fn json_args_not_recommended_for_exec_form_or_after_shell_instruction() {
    assert!(of_rule(
        "FROM alpine\nCMD [\"echo\", \"hi\"]\n",
        "JSONArgsRecommended"
    )
    .is_empty());
    let text = "FROM alpine AS base\nSHELL [\"/bin/bash\", \"-c\"]\nFROM base\nCMD echo hi\n";
    assert!(
        of_rule(text, "JSONArgsRecommended").is_empty(),
        "SHELL is inherited from the parent stage"
    );
}

#[test]
fn from_as_casing_mismatch_is_reported_at_the_as_keyword() {
    assert_eq!(
        of_rule("FROM alpine as build\n", "FromAsCasing"),
        one("'as' and 'FROM' keywords' casing do not match", "1:13")
    );
    assert_eq!(
        of_rule("from alpine AS build\n", "FromAsCasing"),
        one("'AS' and 'from' keywords' casing do not match", "1:13")
    );
    assert!(of_rule(
        "FROM alpine AS build\nfrom alpine as other\n",
        "FromAsCasing"
    )
    .is_empty());
}

#[test]
fn stage_name_casing_reports_uppercase_stage_name() {
    assert_eq!(
        of_rule("FROM alpine AS Build\n", "StageNameCasing"),
        one("Stage name 'Build' should be lowercase", "1:16")
    );
}

#[test]
fn duplicate_stage_name_is_reported_on_the_second_definition() {
    let text = "FROM alpine AS base\nRUN true\nFROM busybox AS base\n";
    assert_eq!(
        of_rule(text, "DuplicateStageName"),
        one(
            "Duplicate stage name \"base\", stage names should be unique",
            "3:17"
        )
    );
}

#[test]
fn reserved_stage_names_scratch_and_context_are_reported() {
    let text = "FROM alpine AS scratch\nFROM alpine AS context\n";
    let expected = vec![
        (
            "Stage name should not use the same name as reserved stage \"scratch\"".to_string(),
            "1:16".to_string(),
        ),
        (
            "Stage name should not use the same name as reserved stage \"context\"".to_string(),
            "2:16".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "ReservedStageName"), expected);
}

#[test]
fn maintainer_instruction_is_deprecated() {
    assert_eq!(
        of_rule(
            "FROM alpine\nMAINTAINER me@example.com\n",
            "MaintainerDeprecated"
        ),
        one(
            "Maintainer instruction is deprecated in favor of using label",
            "2:1"
        )
    );
}

#[test]
fn undefined_var_in_env_is_reported_with_suggestion() {
    assert_eq!(
        of_rule("FROM scratch\nENV PATH=$PAHT:/app/bin\n", "UndefinedVar"),
        one(
            "Usage of undefined variable '$PAHT' (did you mean $PATH?)",
            "2:10"
        )
    );
}

#[test]
fn undefined_var_in_copy_without_close_name_has_no_suggestion() {
    assert_eq!(
        of_rule("FROM scratch\nCOPY $foo /\n", "UndefinedVar"),
        one("Usage of undefined variable '$foo'", "2:6")
    );
}

#[test]
fn undefined_var_in_arg_default_is_reported() {
    assert_eq!(
        of_rule("FROM scratch\nARG VERSION=$foo\n", "UndefinedVar"),
        one("Usage of undefined variable '$foo'", "2:5")
    );
}

#[test]
fn undefined_var_not_reported_for_declared_args_env_and_predefined_args() {
    let text = "\
ARG VERSION=1
FROM scratch
ARG VERSION
ARG bare
ARG TARGETARCH
ENV HOME=/root
LABEL v=$VERSION b=$bare arch=$TARGETARCH h=${HOME} p=$PATH
WORKDIR $HOME
";
    assert!(
        of_rule(text, "UndefinedVar").is_empty(),
        "{:?}",
        found(&lint_text(text))
    );
}

#[test]
fn meta_arg_must_be_redeclared_in_the_stage() {
    assert_eq!(
        of_rule("ARG V=1\nFROM scratch\nLABEL v=$V\n", "UndefinedVar"),
        one("Usage of undefined variable '$V'", "3:9")
    );
}

#[test]
fn env_values_in_one_instruction_do_not_see_each_other() {
    // BuildKit expands every ENV pair before setting any of them.
    assert_eq!(
        of_rule("FROM scratch\nENV A=1 B=$A\nENV C=$A\n", "UndefinedVar"),
        one("Usage of undefined variable '$A'", "2:11")
    );
}

#[test]
fn undefined_var_in_unquoted_copy_heredoc_body_only() {
    let text = "FROM scratch\nCOPY <<EOF /a\n$FOO\nEOF\nCOPY <<\"EOF\" /b\n$BAR\nEOF\n";
    assert_eq!(
        of_rule(text, "UndefinedVar"),
        one("Usage of undefined variable '$FOO'", "3:1")
    );
}

#[test]
fn undefined_var_not_checked_where_a_shell_expands() {
    let text =
        "FROM scratch\nRUN echo $X\nCMD [\"$Y\"]\nENTRYPOINT [\"$Z\"]\nHEALTHCHECK CMD [\"$W\"]\n";
    assert!(of_rule(text, "UndefinedVar").is_empty());
}

#[test]
fn undefined_var_skipped_in_stages_on_external_images() {
    let text =
        "FROM alpine AS a\nENV X=$HOME\nFROM a\nCOPY $y /\nFROM ${BASE:-scratch}\nCOPY $z /\n";
    assert!(of_rule(text, "UndefinedVar").is_empty());
}

#[test]
fn undefined_var_follows_env_through_a_stage_chain() {
    let text = "FROM scratch AS a\nENV FOO=1\nFROM a\nCOPY $FOO $FOOO /\n";
    assert_eq!(
        of_rule(text, "UndefinedVar"),
        one(
            "Usage of undefined variable '$FOOO' (did you mean $FOO?)",
            "4:11"
        )
    );
}

#[test]
fn undefined_var_skipped_after_parent_registers_onbuild_triggers() {
    let text = "FROM scratch AS a\nONBUILD ENV X=1\nFROM a\nCOPY $X /\n";
    assert!(of_rule(text, "UndefinedVar").is_empty());
}

#[test]
fn consistent_instruction_casing_reports_the_minority() {
    let text = "FROM alpine\nrun echo a\nRUN echo b\nCopy a /\n";
    let expected = vec![
        (
            "Command 'run' should match the case of the command majority (uppercase)".to_string(),
            "2:1".to_string(),
        ),
        (
            "Command 'Copy' should match the case of the command majority (uppercase)".to_string(),
            "4:1".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "ConsistentInstructionCasing"), expected);
    assert_eq!(
        of_rule("from alpine\nrun a\nRUN b\n", "ConsistentInstructionCasing"),
        one(
            "Command 'RUN' should match the case of the command majority (lowercase)",
            "3:1"
        )
    );
}

#[test]
fn multiple_cmd_in_one_stage_is_reported_at_the_ignored_one() {
    let text = "FROM alpine\nCMD [\"a\"]\nHEALTHCHECK NONE\nCMD [\"b\"]\nHEALTHCHECK NONE\n";
    let expected = vec![
        (
            "Multiple CMD instructions should not be used in the same stage because only the last one will be used"
                .to_string(),
            "2:1".to_string(),
        ),
        (
            "Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used"
                .to_string(),
            "3:1".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "MultipleInstructionsDisallowed"), expected);
    let per_stage = "FROM alpine AS a\nCMD [\"a\"]\nFROM a\nCMD [\"b\"]\n";
    assert!(of_rule(per_stage, "MultipleInstructionsDisallowed").is_empty());
}

#[test]
fn workdir_relative_path_without_earlier_absolute_workdir() {
    assert_eq!(
        of_rule(
            "FROM alpine\nWORKDIR app\nWORKDIR sub\n",
            "WorkdirRelativePath"
        ),
        one(
            "Relative workdir \"app\" can have unexpected results if the base image changes",
            "2:9"
        )
    );
    let chained = "FROM alpine AS a\nWORKDIR /app\nFROM a\nWORKDIR sub\n";
    assert!(of_rule(chained, "WorkdirRelativePath").is_empty());
    let unknown = "FROM alpine\nWORKDIR $HOME/x\n";
    let windows = "FROM mcr.microsoft.com/windows/nanoserver\nWORKDIR C:/bin\n";
    assert!(
        of_rule(windows, "WorkdirRelativePath").is_empty(),
        "drive letters are absolute"
    );
    assert!(
        of_rule(unknown, "WorkdirRelativePath").is_empty(),
        "value depends on the image"
    );
}

#[test]
fn legacy_key_value_format_for_env_and_label() {
    let text = "FROM alpine\nENV FOO bar baz\nLABEL version 1\nENV OK=1\n";
    let expected = vec![
        (
            "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format"
                .to_string(),
            "2:5".to_string(),
        ),
        (
            "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format"
                .to_string(),
            "3:7".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "LegacyKeyValueFormat"), expected);
}

#[test]
fn empty_continuation_line_is_reported() {
    assert_eq!(
        of_rule(
            "FROM alpine\nRUN echo a \\\n\n  && echo b\n",
            "NoEmptyContinuation"
        ),
        one("Empty continuation line", "2:1")
    );
}

#[test]
fn secrets_in_arg_and_env_names_are_reported() {
    let text = "FROM alpine\nARG API_KEY\nENV DB_PASSWORD=x PUBLIC_KEY=y KEYBOARD=z\n";
    let expected = vec![
        (
            "Do not use ARG or ENV instructions for sensitive data (ARG \"API_KEY\")".to_string(),
            "2:5".to_string(),
        ),
        (
            "Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\")"
                .to_string(),
            "3:5".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "SecretsUsedInArgOrEnv"), expected);
}

#[test]
fn expose_protocol_must_be_lowercase() {
    assert_eq!(
        of_rule("FROM alpine\nEXPOSE 80/TCP 53/udp\n", "ExposeProtoCasing"),
        one(
            "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
            "2:8"
        )
    );
}

#[test]
fn expose_with_ip_or_host_port_is_invalid_format() {
    let text = "FROM alpine\nEXPOSE 127.0.0.1:80:80 8080:80 443\n";
    let expected = vec![
        (
            "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'"
                .to_string(),
            "2:8".to_string(),
        ),
        (
            "EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'".to_string(),
            "2:24".to_string(),
        ),
    ];
    assert_eq!(of_rule(text, "ExposeInvalidFormat"), expected);
}

#[test]
fn undefined_arg_in_from_suggests_declared_arg() {
    assert_eq!(
        of_rule("ARG TAG=1\nFROM alpine:$TAGG\n", "UndefinedArgInFrom"),
        one(
            "FROM argument 'TAGG' is not declared (did you mean TAG?)",
            "2:6"
        )
    );
    assert!(of_rule("ARG TAG\nFROM alpine:$TAG\n", "UndefinedArgInFrom").is_empty());
}

#[test]
fn redundant_target_platform_in_from() {
    assert_eq!(
        of_rule("FROM --platform=$TARGETPLATFORM alpine\n", "RedundantTargetPlatform"),
        one(
            "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
            "1:6"
        )
    );
    assert!(of_rule(
        "FROM --platform=$BUILDPLATFORM alpine\n",
        "RedundantTargetPlatform"
    )
    .is_empty());
}

#[test]
fn clean_dockerfile_has_no_warnings() {
    let report = lint_text(&fixture("clean.Dockerfile"));
    assert!(report.warnings.is_empty(), "{:#?}", found(&report));
    assert!(report.config_error.is_none());
}

#[test]
fn every_rule_fires_once_in_the_combined_fixture_sorted_by_position() {
    let report = lint_text(&fixture("many.Dockerfile"));
    let got: Vec<(&str, String)> = found(&report)
        .into_iter()
        .map(|(rule, _, at)| (rule, at))
        .collect();
    let expected = [
        ("FromAsCasing", "3:12"),
        ("StageNameCasing", "3:15"),
        ("MaintainerDeprecated", "4:1"),
        ("ConsistentInstructionCasing", "5:1"),
        ("LegacyKeyValueFormat", "5:5"),
        ("WorkdirRelativePath", "6:9"),
        ("SecretsUsedInArgOrEnv", "7:5"),
        ("ExposeProtoCasing", "8:8"),
        ("ExposeInvalidFormat", "8:15"),
        ("JSONArgsRecommended", "9:1"),
        ("MultipleInstructionsDisallowed", "9:1"),
        ("ReservedStageName", "12:17"),
        ("UndefinedVar", "14:6"),
    ];
    let expected: Vec<(&str, String)> = expected
        .iter()
        .map(|(r, at)| (*r, at.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert!(report.config.error, "# check=error=true is read");
}

#[test]
fn warnings_carry_description_url_and_hint() {
    let report = lint_text("FROM scratch\nCOPY $foo /\n");
    let warning = &report.warnings[0];
    assert_eq!(
        warning.description,
        "Variables should be defined before their use"
    );
    assert_eq!(
        warning.url,
        "https://docs.docker.com/go/dockerfile/rule/undefined-var/"
    );
    assert!(warning.hint.is_some());
}

#[test]
fn skip_all_silences_every_check() {
    let report = lint_text("# check=skip=all\nFROM alpine as Build\nCMD x\nMAINTAINER me\n");
    assert!(report.warnings.is_empty(), "{:?}", found(&report));
    assert!(report.config.skip_all);
}

#[test]
fn skip_named_rules_silences_only_those_rules() {
    let text = "# check=skip=JSONArgsRecommended,StageNameCasing\nFROM alpine AS Build\nCMD x\nMAINTAINER me\n";
    let rules: Vec<&str> = found(&lint_text(text))
        .into_iter()
        .map(|(r, _, _)| r)
        .collect();
    assert_eq!(rules, vec!["MaintainerDeprecated"]);
}

#[test]
fn error_true_is_reported_in_the_config() {
    let report = lint_text("# check=error=true\nFROM alpine\n");
    assert!(report.config.error && !report.config.skip_all);
    assert!(!lint_text("FROM alpine\n").config.error);
}

#[test]
fn bad_check_directive_is_reported_and_every_check_still_runs() {
    let report = lint_text("# check=error=maybe\nFROM alpine\nCMD x\n");
    let (message, span) = report.config_error.clone().expect("config error");
    assert!(message.contains("error=maybe"), "{message}");
    assert_eq!((span.start.line, span.start.column), (1, 1));
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].rule, "JSONArgsRecommended");
}

const NOT_A_DOCKERFILE: &str = "tonistiigi__xx__src__Dockerfile.rego.Dockerfile";

/// The stage a line belongs to: the last one whose FROM is at or above it.
fn stage_at(plan: &rbuild::ir::BuildPlan, line: usize) -> Option<usize> {
    plan.stages.iter().rposition(|s| s.span.start.line <= line)
}

/// Whether a stage's chain of parent stages ends in `FROM scratch`.
fn rooted_in_scratch(plan: &rbuild::ir::BuildPlan, mut index: usize) -> bool {
    while let Some(parent) = plan.stages[index].base_stage {
        index = parent;
    }
    plan.stages[index].base == "scratch"
}

#[test]
fn realworld_corpus_lints_without_undefined_vars_on_external_images() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/realworld");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip::skip(&format!("{} not found; corpus not linted", dir.display()));
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .filter(|p| p.file_name().is_some_and(|n| n != NOT_A_DOCKERFILE))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let bytes = std::fs::read(file).expect("read corpus file");
        let dockerfile = rbuild::dockerfile::parse_bytes(&bytes).expect("corpus parses");
        let plan = rbuild::ir::lower(&dockerfile).expect("corpus lowers");
        let report = lint(&dockerfile, &plan);
        total += report.warnings.len();
        for w in report.warnings.iter().filter(|w| w.rule == "UndefinedVar") {
            let stage = stage_at(&plan, w.span.start.line).expect("warning inside a stage");
            if !rooted_in_scratch(&plan, stage) {
                failures.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    w.span.start.line,
                    w.message
                ));
            }
        }
    }
    eprintln!("linted {} corpus files: {total} warnings", files.len());
    assert!(
        files.len() > 200,
        "corpus unexpectedly small: {}",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "UndefinedVar on external images:\n{}",
        failures.join("\n")
    );
}
