//! Shell-word expansion on any text, with every lexer option combination
//! and an environment taken from the input: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbuild::shell::{EnvList, Lexer};

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Input layout: option bits, then `word \0 name=value \0 name=value ...`.
    let mut parts = text.split('\0');
    let word = parts.next().unwrap_or_default();
    let env: EnvList = parts
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut lexer = Lexer::new(if options & 1 == 0 { '\\' } else { '`' });
    lexer.raw_quotes = options & 2 != 0;
    lexer.raw_escapes = options & 4 != 0;
    lexer.skip_unset_env = options & 8 != 0;
    lexer.skip_process_quotes = options & 16 != 0;
    let _ = lexer.process_word(word, &env);
    let _ = lexer.process_words(word, &env);
    let _ = lexer.process_word_with_matches(word, &env);
});
