//! Behaviour tests for the tricky corners; the bulk of BuildKit's vectors run
//! in `tests/conformance_shell.rs`.

use std::collections::{BTreeSet, HashMap};

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn word(lexer: &Lexer, input: &str, pairs: &[(&str, &str)]) -> Result<String, ShellError> {
    lexer.process_word(input, &env(pairs))
}

fn words(lexer: &Lexer, input: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    lexer.process_words(input, &env(pairs)).expect(input)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn backtick_escape_character() {
    let lexer = Lexer::new('`');
    let vars = [("V", "x")];
    assert_eq!(word(&lexer, "a`$V", &vars).unwrap(), "a$V");
    assert_eq!(word(&lexer, "C:\\dir\\$V", &vars).unwrap(), "C:\\dir\\x");
    assert_eq!(
        word(&lexer, "\"say `\"hi`\"\"", &vars).unwrap(),
        "say \"hi\""
    );
    assert_eq!(word(&lexer, "\"a`b\"", &vars).unwrap(), "a`b");
    assert_eq!(word(&lexer, "end`", &vars).unwrap(), "end");
    assert_eq!(words(&lexer, "a` b c", &vars), ["a b", "c"]);
    // Patterns always use backslash, whatever the escape character.
    assert_eq!(word(&lexer, "${P#\\*}", &[("P", "*x")]).unwrap(), "x");
}

#[test]
fn raw_quotes_and_escapes_show_heredoc_quoting() {
    let none = EnvList::new();
    let mut lexer = Lexer::new('\\');
    lexer.raw_quotes = true;
    assert_eq!(lexer.process_words("\"EOF\"", &none).unwrap(), ["\"EOF\""]);
    assert_eq!(lexer.process_words("'EOF'", &none).unwrap(), ["'EOF'"]);
    assert_eq!(
        lexer.process_words("<<\"E O F\" x", &none).unwrap(),
        ["<<\"E O F\"", "x"]
    );
    lexer.raw_escapes = true;
    assert_eq!(lexer.process_words("\\EOF", &none).unwrap(), ["\\EOF"]);
    // Inside double quotes a kept escape before an ordinary character doubles.
    assert_eq!(
        lexer.process_word("\"a\\tb\"", &none).unwrap(),
        "\"a\\\\tb\""
    );
    let plain = Lexer::new('\\');
    assert_eq!(plain.process_words("\"EOF\"", &none).unwrap(), ["EOF"]);
    assert_eq!(plain.process_words("\\EOF", &none).unwrap(), ["EOF"]);
}

#[test]
fn skip_unset_env_leaves_forms_for_later() {
    let mut lexer = Lexer::new('\\');
    lexer.skip_unset_env = true;
    let vars = [("SET", "1")];
    assert_eq!(
        word(
            &lexer,
            "$FOO ${BAR} ${BAZ:-x} ${Q#a*} $SET ${SET:-d}",
            &vars
        )
        .unwrap(),
        "$FOO ${BAR} ${BAZ:-x} ${Q#a*} 1 1"
    );
    assert_eq!(
        word(&lexer, "${R/a/b}${R//a/b}", &vars).unwrap(),
        "${R/a/b}${R//a/b}"
    );
    // Even an unsupported modifier is left alone when the variable is unset.
    assert_eq!(word(&lexer, "${U:x}", &vars).unwrap(), "${U:x}");
    assert!(word(&lexer, "${SET:x}", &vars).is_err());
}

#[test]
fn skip_process_quotes_keeps_quotes_literal() {
    let mut lexer = Lexer::new('\\');
    lexer.skip_process_quotes = true;
    assert_eq!(word(&lexer, "'$V' \"x", &[("V", "v")]).unwrap(), "'v' \"x");
}

#[test]
fn matched_and_unmatched_names() {
    let lexer = Lexer::new('\\');
    let vars = env(&[("FOO", "xxx"), ("BAR", "")]);
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("x", "x", &[], &[]),
        ("x ${UNUSED}", "x ", &[], &["UNUSED"]),
        (
            "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
            "xxx  ccc",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
            "xxx bbb ccc",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
            "aaa bbb ",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
            "aaa  ",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        ("${BAR?bbb}$FOO$FOO", "xxxxxx", &["FOO", "BAR"], &[]),
        ("${NOPE:-$FOO}", "xxx", &["FOO"], &["NOPE"]),
    ];
    for (input, expected, matched, unmatched) in cases {
        let got = lexer.process_word_with_matches(input, &vars).expect(input);
        assert_eq!(got.result, *expected, "{input}");
        assert_eq!(got.matched, set(matched), "{input}");
        assert_eq!(got.unmatched, set(unmatched), "{input}");
    }
    let got = lexer
        .process_word_with_matches("a ${FOO} \"b c\"", &vars)
        .unwrap();
    assert_eq!(got.words, ["a", "xxx", "b c"]);
}

#[test]
fn required_variables() {
    let lexer = Lexer::new('\\');
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(
        word(&lexer, no_empty, &[("VAR", "plain"), ("ARG", "x")]).unwrap(),
        "plain"
    );
    assert_eq!(
        word(&lexer, no_unset, &[("VAR", ""), ("ARG", "x")]).unwrap(),
        ""
    );
    let err = word(&lexer, no_empty, &[("VAR", ""), ("ARG", "x")]).unwrap_err();
    assert_eq!(err.to_string(), "VAR: message herex");
    let err = word(&lexer, no_unset, &[("ARG", "x")]).unwrap_err();
    assert_eq!(
        err,
        ShellError::Required {
            name: "VAR".into(),
            message: "message herex".into(),
            offset: 0
        }
    );
    let err = word(&lexer, "ab${V:?}", &[("V", "")]).unwrap_err();
    assert_eq!(err.to_string(), "V: is not allowed to be empty");
    assert_eq!(err.offset(), 2);
    assert_eq!(
        word(&lexer, "${V?}", &[]).unwrap_err().to_string(),
        "V: is not allowed to be unset"
    );
}

#[test]
fn prefix_and_suffix_patterns() {
    let lexer = Lexer::new('\\');
    let cases: &[(&str, &str, &str)] = &[
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", "()[]{}^$.*?|\\x", "x"),
        ("${FOO%%\\**}", "xx**", "xx"),
        ("${FOO#*x*y}", "xxyy", "y"),
        ("${FOO#*}", "xxyy", "xxyy"),
        ("${FOO##*x}", "xxyy", "yy"),
        ("${FOO#?\\?}", "???y", "?y"),
        ("${FOO%%\\**\\*}", "a***yy*", "a"),
        ("${FOO%.*}", "app.tar.gz", "app.tar"),
        ("${FOO%%.*}", "app.tar.gz", "app"),
        ("${FOO#v}", "v1.2.3", "1.2.3"),
        // Bracket expressions are literal text in BuildKit, not character classes.
        ("${FOO#[a-z]}", "abc", "abc"),
        ("${FOO#[a-z]}", "[a-z]bc", "bc"),
        ("${FOO%[0-9]*}", "ab[0-9]cd", "ab"),
        ("${FOO#한}", "한국어", "국어"),
    ];
    for (input, value, expected) in cases {
        assert_eq!(
            word(&lexer, input, &[("FOO", value)]).unwrap(),
            *expected,
            "{input}"
        );
    }
    assert_eq!(
        word(&lexer, "${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")]).unwrap(),
        "xyy"
    );
    assert!(matches!(
        word(&lexer, "${FOO#\\a}", &[("FOO", "a")]),
        Err(ShellError::InvalidPattern { .. })
    ));
    assert!(matches!(
        word(&lexer, "${FOO:#a}", &[("FOO", "a")]),
        Err(ShellError::UnsupportedModifier { .. })
    ));
}

#[test]
fn replacements() {
    let lexer = Lexer::new('\\');
    let check = |input: &str, vars: &[(&str, &str)], expected: &str| {
        assert_eq!(word(&lexer, input, vars).unwrap(), expected, "{input}");
    };
    check(
        "${FOO/$N/.} - ${FOO//$N/.}",
        &[("FOO", "/foo*/*/*.txt"), ("N", "\\*/")],
        "/foo.*/*.txt - /foo..*.txt",
    );
    check(
        "${FOO/$N/} - ${FOO//$N/}",
        &[("FOO", "/tmp/tmp/bar.txt"), ("N", "/tmp")],
        "/tmp/bar.txt - /bar.txt",
    );
    check(
        "${FOO//\\//\\/}",
        &[("FOO", "/tmp/foo.txt")],
        "\\/tmp\\/foo.txt",
    );
    check("${FOO/$B/ww}", &[("FOO", "xxyy"), ("B", "")], "wwxxyy");
    check("${FOO///}", &[("FOO", "xxyy")], "xxyy");
    check("${FOO///}", &[], "");
    check("${FOO/*/X}", &[], "X");
    check("${FOO/[ab]/X}", &[("FOO", "a[ab]")], "aX");
    assert!(matches!(
        word(&lexer, "${FOO//ww}", &[("FOO", "x")]),
        Err(ShellError::MissingSlash { .. })
    ));
    assert!(word(&lexer, "${FOO//}", &[("FOO", "x")]).is_err());
}

#[test]
fn words_keep_text_around_nested_forms() {
    let lexer = Lexer::new('\\');
    assert_eq!(words(&lexer, "pre${X:-a b}post", &[]), ["prea", "bpost"]);
    assert_eq!(words(&lexer, "pre\"${X:-a b}\"post", &[]), ["prea bpost"]);
    assert_eq!(words(&lexer, "\"\" a '' ", &[]), ["a"]);
    assert_eq!(words(&lexer, "$E x", &[("E", " ")]), ["x"]);
}

#[test]
fn error_kinds_and_offsets() {
    let lexer = Lexer::new('\\');
    let err = |input: &str| word(&lexer, input, &[]).unwrap_err();
    assert_eq!(
        err("ab'cd"),
        ShellError::UnterminatedQuote {
            quote: '\'',
            offset: 2
        }
    );
    assert_eq!(
        err("a\"b").to_string(),
        "unexpected end of statement while looking for matching double-quote"
    );
    assert_eq!(err("x${}"), ShellError::BadSubstitution { offset: 1 });
    assert_eq!(err("${a"), ShellError::MissingBrace { offset: 0 });
    assert_eq!(err("${a:-\"b}"), ShellError::MissingBrace { offset: 0 });
    assert_eq!(
        err("${a:=b}").to_string(),
        "unsupported modifier (:=) in substitution"
    );
    assert_eq!(err("${a:-${b?no}}x").to_string(), "b: no");
    assert_eq!(
        err("${a").describe("${a"),
        "failed to process \"${a\": syntax error: missing '}'"
    );
}

#[test]
fn names_follow_go_character_classes() {
    let lexer = Lexer::new('\\');
    assert_eq!(word(&lexer, "$한국어!", &[("한국어", "k")]).unwrap(), "k!");
    assert_eq!(
        word(&lexer, "$1x $12y $٣z", &[("12", "no")]).unwrap(),
        "x noy z"
    );
    assert_eq!(word(&lexer, "$Ⅻ", &[]).unwrap(), "$Ⅻ");
    assert_eq!(word(&lexer, "${@:-d}$$", &[]).unwrap(), "d");
    assert_eq!(word(&lexer, "\u{feff}$A", &[("A", "a")]).unwrap(), "a");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let lexer = Lexer::new('\\');
    let depth = MAX_NESTING - 1;
    let ok = format!("{}x{}", "${a:-".repeat(depth), "}".repeat(depth));
    assert_eq!(word(&lexer, &ok, &[]).unwrap(), "x");
    let deep = format!("{}x{}", "${a:-".repeat(50_000), "}".repeat(50_000));
    assert!(matches!(
        word(&lexer, &deep, &[]),
        Err(ShellError::TooDeep { .. })
    ));
}

/// A small deterministic fuzz: random words over the characters that matter
/// must never panic, with every flag combination and both escape characters.
#[test]
fn random_inputs_never_panic() {
    const ALPHABET: &[&str] = &[
        "$", "{", "}", ":", "-", "+", "?", "#", "%", "/", "'", "\"", "\\", "`", "*", "[", "a", "V",
        "1", "@", " ", "\n", "한", "\u{feff}", "$0", "${", "${V", "${E",
    ];
    let vars = env(&[("V", "va*l ue\n한"), ("E", "")]);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let len = (next() % 24) as usize;
        let input: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let mut lexer = Lexer::new(if round % 2 == 0 { '\\' } else { '`' });
        let flags = next();
        lexer.raw_quotes = flags & 1 != 0;
        lexer.raw_escapes = flags & 2 != 0;
        lexer.skip_unset_env = flags & 4 != 0;
        lexer.skip_process_quotes = flags & 8 != 0;
        let one = lexer.process_word(&input, &vars);
        let many = lexer.process_words(&input, &vars);
        let full = lexer.process_word_with_matches(&input, &vars);
        assert_eq!(one.is_ok(), many.is_ok(), "{input:?}");
        assert_eq!(
            one.clone().ok(),
            full.clone().ok().map(|e| e.result),
            "{input:?}"
        );
        if let (Ok(many), Ok(full)) = (many, full) {
            assert_eq!(many, full.words, "{input:?}");
        }
    }
}

/// Found by the fuzzer: nested replace-all with an empty pattern multiplies
/// the text at every level. It must fail cleanly instead of exhausting memory.
#[test]
fn nested_replace_all_is_bounded() {
    let env = EnvList(vec![("v".into(), "x".repeat(300))]);
    let word = "${v////${v////${v////${v////${v////ab}}}}}";
    let err = Lexer::new('\\').process_word(word, &env).unwrap_err();
    assert!(
        matches!(
            err,
            ShellError::InvalidPattern { .. } | ShellError::TooLarge { .. }
        ),
        "{err:?}"
    );
}
