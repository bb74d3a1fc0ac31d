//! `.dockerignore` reading and matching on any text: the file's patterns,
//! then (after a NUL) paths to match, one per line, asked alone and walking
//! down from their parents. Must never panic. (The two answers may differ,
//! as they do in BuildKit's patternmatcher: the walk skips an exception at a
//! parent that nothing excluded yet. A first version of this target assumed
//! they agree; fuzzing found that they need not.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbuild::context::{read_patterns, MatchInfo, PatternMatcher};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, paths) = text.split_once('\0').unwrap_or((text, "a/b/c"));
    let patterns: Vec<String> = read_patterns(file).into_iter().map(|(_, p)| p).collect();
    let Ok(matcher) = PatternMatcher::new(&patterns) else {
        return;
    };
    for path in paths.lines().take(64) {
        let _ = matcher.matches(path);
        let mut info = MatchInfo::default();
        let mut so_far = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            (_, info) = matcher.matches_using_parent(&so_far, &info);
        }
    }
});
