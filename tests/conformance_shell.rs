//! BuildKit's own shell-word test vectors (`frontend/dockerfile/shell/`),
//! kept byte for byte in `../shared/conformance/buildkit/shell/`. The file
//! formats are described in that folder's README.

#[path = "common/skip.rs"]
mod skip;
use std::path::PathBuf;

use rbuild::shell::{EnvList, Lexer};

/// Vectors that run on Linux: envVarTest lines tagged `A` or `U`.
const ENV_VAR_VECTORS: usize = 228;
const WORDS_VECTORS: usize = 24;

fn vector_file(name: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/buildkit/shell")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(String::from_utf8(bytes).expect("vector file is UTF-8")),
        Err(err) => {
            skip::skip(&format!(
                "BuildKit shell vectors not found at {} ({err}); conformance NOT checked",
                path.display()
            ));
            None
        }
    }
}

fn report(name: &str, ran: usize, expected: usize, failures: &[String]) {
    for failure in failures {
        eprintln!("{name}: {failure}");
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {ran} vectors failed",
        failures.len()
    );
    assert_eq!(ran, expected, "{name}: ran an unexpected number of vectors");
}

#[test]
fn buildkit_env_var_vectors() {
    let Some(text) = vector_file("envVarTest") else {
        return;
    };
    let env = EnvList::from_kv_strings(["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]);
    let lexer = Lexer::new('\\');
    let mut ran = 0;
    let mut failures = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim().split('|').collect();
        let [platform, source, expected] = fields[..] else {
            panic!("envVarTest:{line_no}: expected PLATFORM|SOURCE|EXPECTED, got {line:?}");
        };
        let (platform, source, expected) = (platform.trim(), source.trim(), expected.trim());
        match platform {
            "W" => continue,
            "A" | "U" => {}
            other => panic!("envVarTest:{line_no}: unknown platform {other:?}"),
        }
        ran += 1;
        match (lexer.process_word(source, &env), expected) {
            (Err(_), "error") => {}
            (Ok(got), "error") => failures.push(format!(
                "line {line_no}: {source:?} gave {got:?}, expected an error"
            )),
            (Ok(got), want) if got == want => {}
            (got, want) => failures.push(format!(
                "line {line_no}: {source:?} gave {got:?}, expected {want:?}"
            )),
        }
    }
    report("envVarTest", ran, ENV_VAR_VECTORS, &failures);
}

#[test]
fn buildkit_words_vectors() {
    let Some(text) = vector_file("wordsTest") else {
        return;
    };
    let lexer = Lexer::new('\\');
    let mut env = EnvList::new();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.starts_with('#') {
            continue;
        }
        if let Some(assignment) = line.strip_prefix("ENV ") {
            // Trailing blanks are part of the value.
            let assignment = assignment.trim_start_matches(' ');
            let (name, value) = assignment.split_once('=').unwrap_or((assignment, ""));
            env.push(name, value);
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let [input, expected] = fields[..] else {
            panic!("wordsTest:{line_no}: expected INPUT|EXPECTED, got {line:?}");
        };
        let input = input.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        ran += 1;
        let got = match lexer.process_words(input, &env) {
            Ok(words) => words,
            Err(_) => vec!["error".to_string()],
        };
        if got != expected {
            failures.push(format!(
                "line {line_no}: {input:?} gave {got:?}, expected {expected:?}"
            ));
        }
    }
    report("wordsTest", ran, WORDS_VECTORS, &failures);
}
