//! Glob tokens and their matcher, plus a parser with the syntax and meaning of
//! Go's `filepath.Match` (used for COPY source wildcards and to validate
//! `.dockerignore` patterns, as Docker does).

/// Go's `filepath.ErrBadPattern` text.
pub(crate) const BAD_PATTERN: &str = "syntax error in pattern";

/// A bracket expression: `[abc]`, `[a-z]`, `[^0-9]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) negated: bool,
    pub(crate) ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let hit = self.ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
        hit != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `?`: one character other than `/`.
    Quest,
    /// `**/` in an ignore pattern: zero or more whole leading directories.
    AnyDirs,
    /// A trailing `**` in an ignore pattern: anything, `/` included.
    AnyTail,
    Class(Class),
}

/// Whether `toks` match all of `text`. Backtracking with a memo of failed
/// (token, position) pairs, so the cost stays polynomial.
pub(crate) fn match_tokens(toks: &[Tok], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut failed = vec![false; (toks.len() + 1) * (chars.len() + 1)];
    let mut m = Matcher {
        toks,
        s: &chars,
        failed: &mut failed,
    };
    m.at(0, 0)
}

struct Matcher<'a> {
    toks: &'a [Tok],
    s: &'a [char],
    failed: &'a mut [bool],
}

impl Matcher<'_> {
    fn at(&mut self, ti: usize, si: usize) -> bool {
        let idx = ti * (self.s.len() + 1) + si;
        if self.failed[idx] {
            return false;
        }
        let ok = self.step(ti, si);
        if !ok {
            self.failed[idx] = true;
        }
        ok
    }

    fn step(&mut self, ti: usize, si: usize) -> bool {
        let Some(tok) = self.toks.get(ti) else {
            return si == self.s.len();
        };
        let cur = self.s.get(si).copied();
        match tok {
            Tok::Lit(c) => cur == Some(*c) && self.at(ti + 1, si + 1),
            Tok::Quest => cur.is_some_and(|c| c != '/') && self.at(ti + 1, si + 1),
            Tok::Class(class) => cur.is_some_and(|c| class.matches(c)) && self.at(ti + 1, si + 1),
            Tok::Star => {
                for k in si..=self.s.len() {
                    if self.at(ti + 1, k) {
                        return true;
                    }
                    if self.s.get(k) == Some(&'/') {
                        break;
                    }
                }
                false
            }
            Tok::AnyDirs => {
                if self.at(ti + 1, si) {
                    return true;
                }
                // Regexp `(.*/)?`: `.` does not match a newline.
                for k in si..self.s.len() {
                    let c = self.s[k];
                    if c == '\n' {
                        return false;
                    }
                    if c == '/' && self.at(ti + 1, k + 1) {
                        return true;
                    }
                }
                false
            }
            Tok::AnyTail => {
                for k in si..=self.s.len() {
                    if self.at(ti + 1, k) {
                        return true;
                    }
                    if self.s.get(k) == Some(&'\n') {
                        break;
                    }
                }
                false
            }
        }
    }
}

/// Parses a pattern with Go `filepath.Match` syntax: `*`, `?`, `[...]` with
/// `^` negation and ranges, `\` escaping the next character. Like Go, the
/// whole pattern is checked, so a malformed one is an error whatever it is
/// matched against.
pub(crate) fn parse_go_glob(pattern: &str) -> Result<Vec<Tok>, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Quest),
            '\\' => {
                let escaped = *chars.get(i).ok_or(BAD_PATTERN)?;
                i += 1;
                toks.push(Tok::Lit(escaped));
            }
            '[' => {
                let (class, next) = parse_class(&chars, i)?;
                i = next;
                toks.push(Tok::Class(class));
            }
            other => toks.push(Tok::Lit(other)),
        }
    }
    Ok(toks)
}

/// Parses a bracket expression whose `[` ends just before `start`; returns
/// the class and the index after its `]`.
pub(crate) fn parse_class(chars: &[char], start: usize) -> Result<(Class, usize), &'static str> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Class { negated, ranges }, i + 1));
        }
        let lo = class_char(chars, &mut i)?;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            i += 1;
            hi = class_char(chars, &mut i)?;
        }
        ranges.push((lo, hi));
    }
}

/// One possibly escaped character of a class; like Go's `getEsc`, a bare `-`
/// or `]` is an error, and so is reaching the end of the pattern.
fn class_char(chars: &[char], i: &mut usize) -> Result<char, &'static str> {
    let mut c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    if c == '-' || c == ']' {
        return Err(BAD_PATTERN);
    }
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    }
    *i += 1;
    if *i >= chars.len() {
        return Err(BAD_PATTERN);
    }
    Ok(c)
}

/// Whether a path component holds an unescaped `*`, `?` or `[` (the test
/// BuildKit uses to decide that a COPY source is a wildcard).
pub(crate) fn contains_wildcards(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_match(pattern: &str, name: &str) -> Result<bool, &'static str> {
        parse_go_glob(pattern).map(|toks| match_tokens(&toks, name))
    }

    #[test]
    fn go_filepath_match_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[b-d]", "abc", true),
            ("ab[^c]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[x\\-]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
            (".*", ".hidden", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(go_match(p, s), Ok(*want), "Match({p:?}, {s:?})");
        }
    }

    #[test]
    fn go_filepath_bad_patterns() {
        for p in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[",
        ] {
            assert_eq!(go_match(p, "a"), Err(BAD_PATTERN), "{p:?}");
        }
    }

    #[test]
    fn wildcard_detection_skips_escapes() {
        assert!(contains_wildcards(b"*.txt"));
        assert!(contains_wildcards(b"f[ab]"));
        assert!(!contains_wildcards(b"plain"));
        assert!(!contains_wildcards(b"a\\*b"));
    }
}
