//! Every Dockerfile of `../shared/corpus/realworld` parses and lowers.
//!
//! One file in the corpus is not a Dockerfile: `Dockerfile.rego` is a Rego
//! policy. It parses (BuildKit's parser accepts any words) but lowering must
//! reject it exactly as BuildKit does, with "unknown instruction: package" at
//! line 1; the test pins that instead of pretending it lowers.

const NOT_A_DOCKERFILE: &str = "tonistiigi__xx__src__Dockerfile.rego.Dockerfile";

#[path = "common/skip.rs"]
mod skip;
use std::path::PathBuf;

#[test]
fn every_realworld_dockerfile_parses_and_lowers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/realworld");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip::skip(&format!("{} not found; corpus not checked", dir.display()));
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        let result = rbuild::dockerfile::parse_bytes(&bytes)
            .map_err(|e| {
                format!(
                    "parse: {e} at {}:{}",
                    e.span.start.line, e.span.start.column
                )
            })
            .and_then(|df| {
                rbuild::ir::lower(&df).map_err(|e| {
                    format!(
                        "lower: {e} at {}:{}",
                        e.span.start.line, e.span.start.column
                    )
                })
            });
        let is_policy = file.file_name().is_some_and(|n| n == NOT_A_DOCKERFILE);
        match (result, is_policy) {
            (Ok(_), false) => {}
            (Err(e), true) if e == "lower: unknown instruction: package at 1:1" => {}
            (Err(e), _) => failures.push(format!("{}: {e}", file.display())),
            (Ok(_), true) => failures.push(format!("{}: lowered but must fail", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert_eq!(files.len(), 229, "expected 229 corpus Dockerfiles");
}
