//! Heredoc golden tests. BuildKit's own dumps omit heredoc bodies, so these
//! pin them: each `fixtures/parser/heredoc/NAME.Dockerfile` has a
//! `NAME.golden` holding the BuildKit dump line of every instruction followed
//! by its heredocs (delimiter, fd, expand, chomp, and the body as the build
//! sees it). Regenerate with `UPDATE_GOLDEN=1 cargo test --test parser_heredoc`
//! and review the diff.

use rbuild::dockerfile::dump::{dump, go_quote};
use rbuild::dockerfile::{parse_bytes, ParseErrorKind};
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/parser/heredoc")
}

fn render(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("fixture");
    let df = parse_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dumped = dump(&df);
    let mut out = String::new();
    for (line, instruction) in dumped.lines().zip(&df.instructions) {
        let _ = writeln!(out, "{line}");
        for h in &instruction.heredocs {
            let _ = writeln!(
                out,
                "  heredoc {} fd={} expand={} chomp={} lines={}-{}\n    body {}",
                go_quote(&h.name),
                h.fd,
                h.expand,
                h.chomp,
                h.span.start.line,
                h.span.end.line,
                go_quote(&h.body())
            );
        }
    }
    out
}

#[test]
fn heredoc_fixtures_match_their_golden_files() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "heredoc fixtures missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let got = render(case);
        let golden = case.with_extension("golden");
        if update {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
        if got != want {
            failures.push(format!(
                "{}\n--- want\n{want}--- got\n{got}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unterminated_heredoc_is_an_error_at_the_instruction() {
    let bytes = std::fs::read(fixtures().join("unterminated.Dockerfile.err")).expect("fixture");
    let err = parse_bytes(&bytes).expect_err("must fail");
    assert_eq!(
        err.kind,
        ParseErrorKind::UnterminatedHeredoc { name: "EOF".into() }
    );
    assert_eq!((err.span.start.line, err.span.start.column), (2, 1));
}

#[test]
fn chomped_body_keeps_raw_content_for_onbuild_triggers() {
    let df = rbuild::dockerfile::parse("FROM a\nRUN <<-EOF\n\tx\n\tEOF\n").expect("parses");
    let heredoc = &df.instructions[1].heredocs[0];
    assert_eq!(heredoc.content, "\tx\n");
    assert_eq!(heredoc.body(), "x\n");
}
