//! Parser details BuildKit's golden files do not show: spans, directives,
//! BOM/CRLF handling and located errors.

use rbuild::dockerfile::{parse, parse_bytes, Args, Keyword, ParseErrorKind};

#[test]
fn flags_and_args_carry_their_columns() {
    let df = parse("FROM a\n  COPY --from=b --chmod=644 src dst\n").expect("parses");
    let copy = &df.instructions[1];
    assert_eq!(
        (copy.name.span.start.line, copy.name.span.start.column),
        (2, 3)
    );
    let cols: Vec<usize> = copy.flags.iter().map(|f| f.span.start.column).collect();
    assert_eq!(cols, [8, 17]);
    let args: Vec<(usize, &str)> = copy
        .args
        .words()
        .iter()
        .map(|w| (w.span.start.column, w.text.as_str()))
        .collect();
    assert_eq!(args, [(29, "src"), (33, "dst")]);
}

#[test]
fn spans_follow_continuation_lines() {
    let df = parse("FROM a\nENV A=1 \\\n    B=2\n").expect("parses");
    let Args::Pairs(pairs) = &df.instructions[1].args else {
        panic!()
    };
    let b = &pairs[1].key.span.start;
    assert_eq!((b.line, b.column), (3, 5));
    assert_eq!(df.instructions[1].span.end.line, 3);
}

#[test]
fn escape_directive_switches_to_backtick() {
    let df = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\n").expect("parses");
    assert_eq!(df.escape, '`');
    assert_eq!(
        df.instructions[1].args.words()[0].text,
        "dir c:\\   && echo x"
    );
    assert_eq!(df.directives[0].name, "escape");
}

#[test]
fn directives_only_count_in_the_leading_comment_run() {
    let df = parse("# comment\n# escape=`\nFROM a\nRUN a \\\n b\n").expect("parses");
    assert_eq!(df.escape, '\\');
    assert!(df.directives.is_empty());
    let df = parse("# SYNTAX = docker/dockerfile:1\n#check=skip=all\nFROM a\n").expect("parses");
    let names: Vec<&str> = df.directives.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["syntax", "check"]);
}

#[test]
fn directive_errors_are_located() {
    let e = parse("# escape=x\nFROM a\n").expect_err("bad escape");
    assert!(matches!(e.kind, ParseErrorKind::InvalidEscape { .. }));
    assert_eq!(e.span.start.line, 1);
    let e = parse("# syntax=a\n# syntax=b\nFROM a\n").expect_err("duplicate");
    assert!(matches!(e.kind, ParseErrorKind::DuplicateDirective { .. }));
    assert_eq!(e.span.start.line, 2);
}

#[test]
fn bom_and_crlf_are_handled() {
    let df = parse("\u{feff}FROM a\r\nRUN echo \\\r\n  hi\r\n").expect("parses");
    assert_eq!(df.instructions[0].keyword, Keyword::From);
    assert_eq!(df.instructions[1].args.words()[0].text, "echo   hi");
    assert_eq!(df.instructions[0].span.start.column, 1);
}

#[test]
fn invalid_utf8_is_located() {
    let e = parse_bytes(b"FROM a\nRUN \xff\n").expect_err("invalid utf-8");
    assert!(matches!(e.kind, ParseErrorKind::InvalidUtf8 { offset: 11 }));
    assert_eq!((e.span.start.line, e.span.start.column), (2, 5));
}

#[test]
fn errors_carry_locations() {
    let e = parse("FROM a\nENV PATH\n").expect_err("env without value");
    assert_eq!(e.to_string(), "ENV must have two arguments");
    assert_eq!((e.span.start.line, e.span.start.column), (2, 5));
    let e = parse("FROM a\nENV a=1 b\n").expect_err("missing =");
    assert_eq!((e.span.start.line, e.span.start.column), (2, 9));
    let e = parse("FROM a\nCMD [\"a\", 1]\n").expect_err("non-string json");
    assert_eq!(e.kind, ParseErrorKind::JsonNotStrings);
}

#[test]
fn keywords_are_case_insensitive_and_unknown_ones_are_kept() {
    let df = parse("from a\nfRoM b\nBOGUS thing\n").expect("parses");
    assert_eq!(df.instructions[1].keyword, Keyword::From);
    assert_eq!(df.instructions[2].keyword, Keyword::Unknown);
    assert_eq!(df.instructions[2].name.text, "BOGUS");
}

#[test]
fn comments_above_instructions_are_kept() {
    let df = parse("FROM a\n# the port\n# to use\nARG PORT\n").expect("parses");
    assert_eq!(df.instructions[1].comments, ["the port", "to use"]);
}

#[test]
fn empty_continuation_lines_warn() {
    let df = parse("FROM a\nRUN a \\\n\n  b\n").expect("parses");
    assert_eq!(df.warnings.len(), 1);
    assert_eq!(df.instructions[1].args.words()[0].text, "a   b");
}

#[test]
fn odd_inputs_do_not_panic() {
    for input in [
        "\\",
        "FROM\t\u{a0}x",
        "RUN <<",
        "RUN <<-",
        "ONBUILD",
        "FROM a\nRUN 99999999999<<EOF\nEOF",
        "\u{feff}",
        "#",
        "FROM a\nHEALTHCHECK \u{3000}CMD x",
    ] {
        let _ = parse(input);
    }
}
