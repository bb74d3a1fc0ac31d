//! Shell patterns for `${v#p}`, `${v%p}` and `${v/p/r}`.
//!
//! BuildKit turns the pattern into a Go regular expression and lets Go's
//! leftmost-first engine find the match. We keep its observable rules:
//!
//! - `*` is any run of characters and `?` one character, neither crossing a
//!   newline (Go's `.` excludes `\n`); `*` prefers the shortest run for `#`/`%`
//!   and the longest for `##`/`%%` and `/`.
//! - `[...]` is *not* a bracket expression: BuildKit matches it literally.
//! - `\` (always backslash, whatever the Dockerfile escape character) makes
//!   `*`, `?` or `\` literal, is dropped before `}` and `/`, and is an error
//!   before anything else.
//! - Suffix removal reverses pattern and value and removes a prefix.
//! - `${v//p/r}` expands `$0`/`${0}` in `r` to the match and other `$name`s to
//!   nothing, because Go's `ReplaceAllString` does; `${v/p/r}` inserts `r` as is.
//!
//! Matching runs a small Pike VM (thread list per input position), which has
//! the same priorities as a backtracking matcher but is linear in the input,
//! so hostile patterns such as `*a*a*a*b` cannot blow up.

use super::unicode::{is_digit, is_letter};

/// Why a pattern was rejected (BuildKit's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PatternError(pub(super) String);

/// Largest result `${v//p/r}` may build. Replace-all is the one operator whose
/// output multiplies (`r` once per match, and `r` may itself hold a nested
/// replace-all), so hostile input could otherwise demand gigabytes.
pub(super) const MAX_REPLACE_RESULT: usize = 16 << 20;

#[derive(Debug, Clone, Copy)]
enum Inst {
    Char(char),
    /// Any character but `\n`.
    Any,
    /// Try the first target, then the second.
    Split(usize, usize),
    Jmp(usize),
    Match,
}

/// A compiled pattern.
#[derive(Debug)]
pub(super) struct Glob {
    prog: Vec<Inst>,
}

impl Glob {
    /// Compiles `pattern`; `greedy` picks the longest runs for `*`.
    pub(super) fn compile(pattern: &str, greedy: bool) -> Result<Glob, PatternError> {
        // Go's text scanner skips a byte order mark at the very start.
        let pattern = pattern.strip_prefix('\u{feff}').unwrap_or(pattern);
        let mut prog = Vec::with_capacity(pattern.len() + 1);
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => push_star(&mut prog, greedy),
                '?' => prog.push(Inst::Any),
                '\\' => match chars.peek() {
                    // Escapes needed only to get `}` and `/` past the `${}`
                    // parser; the character itself is taken next time round.
                    Some('}' | '/') => {}
                    Some(&e @ ('*' | '?' | '\\')) => {
                        chars.next();
                        prog.push(Inst::Char(e));
                    }
                    other => {
                        // Go prints the end of input as U+FFFD.
                        let shown = other.copied().unwrap_or('\u{fffd}');
                        return Err(PatternError(format!("invalid escape '\\{shown}'")));
                    }
                },
                _ => prog.push(Inst::Char(c)),
            }
        }
        prog.push(Inst::Match);
        Ok(Glob { prog })
    }

    /// The first match starting at or after byte `from` (only at `from` when
    /// `anchored`), as a byte range of `text`.
    pub(super) fn find_at(
        &self,
        text: &str,
        from: usize,
        anchored: bool,
    ) -> Option<(usize, usize)> {
        let rest = text.get(from..)?;
        let mut vm = Vm::new(self.prog.len());
        let mut found = None;
        let mut pos = from;
        let mut chars = rest.chars();
        loop {
            if found.is_none() && (!anchored || pos == from) {
                vm.add(&self.prog, 0, pos);
            }
            if vm.current.is_empty() {
                break;
            }
            let c = chars.next();
            if let Some(end) = vm.step(&self.prog, c, pos) {
                found = Some(end);
            }
            match c {
                Some(c) => pos += c.len_utf8(),
                None => break,
            }
        }
        found
    }
}

/// `.*` or `.*?`: a loop over `Any` whose split order sets the preference.
fn push_star(prog: &mut Vec<Inst>, greedy: bool) {
    let split = prog.len();
    let (body, exit) = (split + 1, split + 3);
    prog.push(if greedy {
        Inst::Split(body, exit)
    } else {
        Inst::Split(exit, body)
    });
    prog.push(Inst::Any);
    prog.push(Inst::Jmp(split));
}

/// Thread lists of the Pike VM: `(pc, match start)` in priority order.
struct Vm {
    current: Vec<(usize, usize)>,
    next: Vec<(usize, usize)>,
    /// Generation in which each pc was last added, to add it once per position.
    seen: Vec<usize>,
    generation: usize,
    stack: Vec<usize>,
}

impl Vm {
    fn new(len: usize) -> Vm {
        Vm {
            current: Vec::new(),
            next: Vec::new(),
            seen: vec![usize::MAX; len],
            generation: 0,
            stack: Vec::new(),
        }
    }

    /// Adds a thread at `pc` to the current list, following jumps and splits
    /// depth first (an explicit stack: a pattern of many `*` must not recurse).
    fn add(&mut self, prog: &[Inst], pc: usize, start: usize) {
        add_thread(
            prog,
            &mut self.current,
            &mut self.seen,
            self.generation,
            &mut self.stack,
            pc,
            start,
        );
    }

    /// Feeds `c` (None at the end) to every current thread. Returns the match
    /// found by the highest-priority thread that reached `Match`, which also
    /// cuts off the lower-priority threads after it.
    fn step(&mut self, prog: &[Inst], c: Option<char>, pos: usize) -> Option<(usize, usize)> {
        let generation = self.generation + 1;
        self.next.clear();
        let mut found = None;
        for &(pc, start) in &self.current {
            let advance = match prog.get(pc) {
                Some(Inst::Match) => {
                    found = Some((start, pos));
                    break;
                }
                Some(Inst::Char(want)) => c == Some(*want),
                Some(Inst::Any) => matches!(c, Some(ch) if ch != '\n'),
                _ => false,
            };
            if advance {
                add_thread(
                    prog,
                    &mut self.next,
                    &mut self.seen,
                    generation,
                    &mut self.stack,
                    pc + 1,
                    start,
                );
            }
        }
        std::mem::swap(&mut self.current, &mut self.next);
        self.generation = generation;
        found
    }
}

fn add_thread(
    prog: &[Inst],
    list: &mut Vec<(usize, usize)>,
    seen: &mut [usize],
    generation: usize,
    stack: &mut Vec<usize>,
    pc: usize,
    start: usize,
) {
    stack.push(pc);
    while let Some(pc) = stack.pop() {
        match seen.get_mut(pc) {
            Some(mark) if *mark != generation => *mark = generation,
            _ => continue,
        }
        match prog.get(pc) {
            Some(Inst::Jmp(target)) => stack.push(*target),
            Some(Inst::Split(first, second)) => {
                stack.push(*second);
                stack.push(*first);
            }
            Some(_) => list.push((pc, start)),
            None => {}
        }
    }
}

/// `${v#p}` / `${v##p}`: `value` without its shortest (longest) matching prefix.
pub(super) fn trim_prefix<'v>(
    value: &'v str,
    pattern: &str,
    greedy: bool,
) -> Result<&'v str, PatternError> {
    let glob = Glob::compile(pattern, greedy)?;
    Ok(match glob.find_at(value, 0, true) {
        Some((_, end)) => value.get(end..).unwrap_or(value),
        None => value,
    })
}

/// `${v%p}` / `${v%%p}`: `value` without its shortest (longest) matching suffix.
/// Like BuildKit, reverses both and removes a prefix; a reversed prefix of `k`
/// bytes is an original suffix of `k` bytes, so we cut the original directly.
pub(super) fn trim_suffix<'v>(
    value: &'v str,
    pattern: &str,
    greedy: bool,
) -> Result<&'v str, PatternError> {
    let glob = Glob::compile(&reverse_pattern(pattern), greedy)?;
    let reversed: String = value.chars().rev().collect();
    Ok(match glob.find_at(&reversed, 0, true) {
        Some((_, end)) => value
            .get(..value.len().saturating_sub(end))
            .unwrap_or(value),
        None => value,
    })
}

/// Reverses a pattern but keeps each `\x` pair in order, so `a\*c` becomes `c\*a`.
pub(super) fn reverse_pattern(pattern: &str) -> String {
    let mut units: Vec<&str> = Vec::with_capacity(pattern.len());
    let mut iter = pattern.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let mut end = i + c.len_utf8();
        if c == '\\' {
            if let Some((j, next)) = iter.next() {
                end = j + next.len_utf8();
            }
        }
        units.push(pattern.get(i..end).unwrap_or(""));
    }
    units.iter().rev().copied().collect()
}

/// `${v/p/r}`: the first (longest) match replaced by `replacement` verbatim.
pub(super) fn replace_first(
    value: &str,
    pattern: &str,
    replacement: &str,
) -> Result<String, PatternError> {
    let glob = Glob::compile(pattern, true)?;
    Ok(match glob.find_at(value, 0, false) {
        Some((start, end)) => {
            let mut out = String::with_capacity(value.len() + replacement.len());
            out.push_str(value.get(..start).unwrap_or(""));
            out.push_str(replacement);
            out.push_str(value.get(end..).unwrap_or(""));
            out
        }
        None => value.to_owned(),
    })
}

/// `${v//p/r}`: every match replaced, with Go's rules for successive and
/// empty matches (an empty match right after a match is not replaced, and the
/// search always moves on by at least one character).
pub(super) fn replace_all(
    value: &str,
    pattern: &str,
    replacement: &str,
) -> Result<String, PatternError> {
    let glob = Glob::compile(pattern, true)?;
    let mut out = String::with_capacity(value.len());
    let mut last_end = 0;
    let mut search = 0;
    while search <= value.len() {
        let Some((start, end)) = glob.find_at(value, search, false) else {
            break;
        };
        out.push_str(value.get(last_end..start).unwrap_or(""));
        if end > last_end || start == 0 {
            expand_template(&mut out, replacement, value.get(start..end).unwrap_or(""));
            if out.len() > MAX_REPLACE_RESULT {
                return Err(PatternError(format!(
                    "result of replacing every match exceeds {} MiB",
                    MAX_REPLACE_RESULT >> 20
                )));
            }
        }
        last_end = end;
        let width = value
            .get(search..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8);
        search = if search + width > end {
            search + width
        } else if search + 1 > end {
            search + 1
        } else {
            end
        };
    }
    out.push_str(value.get(last_end..).unwrap_or(""));
    Ok(out)
}

/// Go's `Regexp.Expand` for a regexp without groups: `$$` is `$`, `$0` and
/// `${0}` the whole match, any other `$name`/`${name}` nothing, and a `$` not
/// followed by a name is kept.
fn expand_template(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        match template_name(after) {
            Some((name, tail)) => {
                if name == "0" {
                    out.push_str(matched);
                }
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Splits `name` or `{name}` off the front of `s` (Go's `extract`).
fn template_name(s: &str) -> Option<(&str, &str)> {
    let (body, braced) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !(is_letter(c) || is_digit(c) || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let (name, tail) = body.split_at(len);
    if braced {
        return tail.strip_prefix('}').map(|t| (name, t));
    }
    Some((name, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverses_keeping_escape_pairs() {
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
        assert_eq!(reverse_pattern("\\\\\\ab"), "b\\a\\\\");
        assert_eq!(reverse_pattern("ab\\"), "\\ba");
        assert_eq!(reverse_pattern("👽\\🚀🖖"), "🖖\\🚀👽");
        assert_eq!(reverse_pattern("\\\\b"), "b\\\\");
    }

    #[test]
    fn rejects_bad_escapes() {
        for bad in ["\\", "\\x", "\\\\\\"] {
            assert!(Glob::compile(bad, true).is_err(), "{bad:?}");
        }
        assert!(Glob::compile("(()[]{\\}^$.\\*\\?|\\\\", true).is_ok());
    }

    #[test]
    fn lazy_and_greedy_prefixes() {
        assert_eq!(trim_prefix("xxyy", "*x", false).unwrap(), "xyy");
        assert_eq!(trim_prefix("xxyy", "*x", true).unwrap(), "yy");
        assert_eq!(trim_prefix("xxyy", "*", false).unwrap(), "xxyy");
        assert_eq!(trim_prefix("xxyy", "*x*y", false).unwrap(), "y");
        assert_eq!(trim_suffix("a***yy*", "\\**\\*", true).unwrap(), "a");
        assert_eq!(trim_suffix("file.tar.gz", ".*", false).unwrap(), "file.tar");
        assert_eq!(trim_suffix("file.tar.gz", ".*", true).unwrap(), "file");
    }

    #[test]
    fn wildcards_stop_at_newlines() {
        assert_eq!(trim_prefix("ab\ncd", "*", true).unwrap(), "\ncd");
        assert_eq!(trim_prefix("a\nb", "a?b", true).unwrap(), "a\nb");
    }

    #[test]
    fn replace_all_follows_go_rules() {
        assert_eq!(replace_all("xxyy", "", "").unwrap(), "xxyy");
        assert_eq!(replace_all("abc", "", "-").unwrap(), "-a-b-c-");
        assert_eq!(replace_all("abc", "*", "-").unwrap(), "-");
        assert_eq!(
            replace_all("a.b", ".", "[$0|${0}|$1|$x|$$|$.]").unwrap(),
            "a[.|.|||$|$.]b"
        );
        assert_eq!(replace_first("a.b.c", ".", "$0").unwrap(), "a$0b.c");
    }

    #[test]
    fn replace_all_refuses_to_grow_without_bound() {
        let value = "x".repeat(1000);
        let replacement = "y".repeat(MAX_REPLACE_RESULT / 500);
        assert!(replace_all(&value, "", &replacement).is_err());
    }

    /// Backtracking with Perl priorities, the semantics Go's engine promises;
    /// the VM must find exactly the same match.
    fn backtrack(prog: &[Inst], text: &[char], pc: usize, i: usize) -> Option<usize> {
        match prog[pc] {
            Inst::Match => Some(i),
            Inst::Char(c) => {
                (text.get(i) == Some(&c)).then(|| backtrack(prog, text, pc + 1, i + 1))?
            }
            Inst::Any => matches!(text.get(i), Some(&c) if c != '\n')
                .then(|| backtrack(prog, text, pc + 1, i + 1))?,
            Inst::Split(a, b) => {
                backtrack(prog, text, a, i).or_else(|| backtrack(prog, text, b, i))
            }
            Inst::Jmp(t) => backtrack(prog, text, t, i),
        }
    }

    #[test]
    fn vm_agrees_with_backtracking() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        for _ in 0..5_000 {
            let pattern: String = (0..next(6))
                .map(|_| ['a', 'b', '*', '?'][next(4)])
                .collect();
            let text: Vec<char> = (0..next(8)).map(|_| ['a', 'b', '\n'][next(3)]).collect();
            let s: String = text.iter().collect();
            for greedy in [false, true] {
                let glob = Glob::compile(&pattern, greedy).unwrap();
                for anchored in [false, true] {
                    let starts = if anchored { 0..1 } else { 0..text.len() + 1 };
                    let expected = starts
                        .into_iter()
                        .find_map(|st| backtrack(&glob.prog, &text, 0, st).map(|end| (st, end)));
                    // All characters are one byte, so char and byte offsets agree.
                    assert_eq!(
                        glob.find_at(&s, 0, anchored),
                        expected,
                        "{pattern:?} {s:?} {greedy}"
                    );
                }
            }
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let value = "a".repeat(20_000);
        let pattern = "*a".repeat(200) + "b";
        assert_eq!(trim_prefix(&value, &pattern, true).unwrap(), value);
        assert_eq!(replace_all(&value, &pattern, "x").unwrap(), value);
    }
}
