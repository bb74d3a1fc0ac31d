//! `.dockerignore` reading and matching on any text: the file's patterns,
//! then (after a NUL) paths to match, one per line. Must never panic, and a
//! path's verdict must not depend on the way it is asked (alone, or walking
//! down from its parents).
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
        let alone = matcher.matches(path);
        let mut info = MatchInfo::default();
        let mut walked = false;
        let mut so_far = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            (walked, info) = matcher.matches_using_parent(&so_far, &info);
        }
        if !path.split('/').any(|p| p.is_empty() || p == "." || p == "..") && !path.is_empty() {
            assert_eq!(alone, walked, "{path:?} with {patterns:?}");
        }
    }
});
