//! Cases from moby/patternmatcher's tests, restated: (pattern, path, whether
//! the path or one of its parents matches).

use super::*;

fn one(pattern: &str, path: &str) -> bool {
    PatternMatcher::new(&[pattern]).unwrap().matches(path)
}

#[test]
fn single_pattern_cases() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "dir/file/", true),
        ("**/", "file", true),
        ("**/**", "dir/file", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/dir2/file", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**file", "file", true),
        ("**file", "dir/dir/file", true),
        ("**file", "dir/xfile", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08-py3-none-any.whl",
            true,
        ),
        ("a\\\\", "a\\", true),
        ("a\\*b", "a*b", true),
        ("a*", "ab/c", true),
        ("a*/b", "a/c/b", false),
        ("/abs", "abs", true),
        ("./rel/../x", "x", true),
    ];
    for (p, s, want) in cases {
        assert_eq!(one(p, s), *want, "pattern {p:?} on {s:?}");
    }
}

#[test]
fn multi_pattern_cases() {
    let pm = PatternMatcher::new(&["**", "!util/docker/web"]).unwrap();
    assert!(!pm.matches("util/docker/web/foo"));
    let pm = PatternMatcher::new(&["**", "!util/docker/web", "util/docker/web/foo"]).unwrap();
    assert!(pm.matches("util/docker/web/foo"));
    let pm = PatternMatcher::new(&["docs", "!docs/README.md"]).unwrap();
    assert!(!pm.matches("docs/README.md"));
    assert!(pm.matches("docs/other.md"));
    let pm = PatternMatcher::new(&["!fileutils.go", "*.go"]).unwrap();
    assert!(pm.matches("fileutils.go"));
}

#[test]
fn parent_results_agree_with_parent_matching() {
    let pm = PatternMatcher::new(&["a", "!a/b", "a/b/c", "!**/keep"]).unwrap();
    for path in ["a/x", "a/b", "a/b/y", "a/b/c/d", "a/b/c/keep", "z/keep"] {
        let mut info = MatchInfo::default();
        let mut verdict = false;
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            (verdict, info) = pm.matches_using_parent(&prefix, &info);
        }
        assert_eq!(verdict, pm.matches(path), "{path}");
    }
}

#[test]
fn invalid_patterns_name_pattern_and_line() {
    let err = PatternMatcher::new(&["ok", "[", "x"]).unwrap_err();
    assert_eq!((err.pattern.as_str(), err.line), ("[", 2));
    assert!(PatternMatcher::new(&["!"]).is_err());
    assert!(PatternMatcher::new(&["a[z-a]"]).is_err());
    assert!(PatternMatcher::new(&["trailing\\"]).is_err());
}
