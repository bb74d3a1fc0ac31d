//! BuildKit's parser golden files (`../shared/conformance/buildkit`): every
//! `testfiles` case dumps exactly to its `result`, every negative case fails,
//! and the line case gives the right spans.

#[path = "common/skip.rs"]
mod skip;
use rbuild::dockerfile::{dump::dump, parse_bytes};
use std::fs;
use std::path::PathBuf;

fn conformance_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/buildkit");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip::skip(&format!(
            "{} not found; BuildKit conformance cases were not run",
            dir.display()
        ));
        None
    }
}

fn case_dirs(dir: PathBuf) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn buildkit_testfiles_dump_to_their_result() {
    let Some(dir) = conformance_dir() else { return };
    let cases = case_dirs(dir.join("testfiles"));
    let mut failures = Vec::new();
    for case in &cases {
        let source = fs::read(case.join("Dockerfile")).expect("Dockerfile");
        let expected = fs::read_to_string(case.join("result")).expect("result");
        match parse_bytes(&source) {
            Ok(df) => {
                let got = dump(&df);
                if got != expected {
                    failures.push(format!(
                        "{}:\n--- expected\n{expected}--- got\n{got}",
                        case.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: parse error: {e}", case.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(cases.len(), 33, "expected 33 testfiles cases");
}

#[test]
fn buildkit_negative_cases_are_rejected() {
    let Some(dir) = conformance_dir() else { return };
    let cases = case_dirs(dir.join("testfiles-negative"));
    for case in &cases {
        let source = fs::read(case.join("Dockerfile")).expect("Dockerfile");
        if let Ok(df) = parse_bytes(&source) {
            panic!("{} parsed but must fail:\n{}", case.display(), dump(&df));
        }
    }
    assert_eq!(cases.len(), 4, "expected 4 negative cases");
}

#[test]
fn buildkit_line_case_gives_instruction_spans() {
    let Some(dir) = conformance_dir() else { return };
    let source = fs::read(dir.join("testfile-line/Dockerfile")).expect("Dockerfile");
    let df = parse_bytes(&source).expect("parses");
    let lines: Vec<(usize, usize)> = df
        .instructions
        .iter()
        .map(|i| (i.span.start.line, i.span.end.line))
        .collect();
    assert_eq!(lines, [(5, 5), (11, 12), (17, 31)]);
}
