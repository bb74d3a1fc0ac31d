//! Finding and reading the ignore file, with the rules of BuildKit's
//! dockerui frontend and moby/patternmatcher's `ignorefile.ReadAll`.

use std::io;
use std::path::{Path, PathBuf};

use super::error::ContextError;
use super::gopath;
use super::pattern::PatternMatcher;

/// The name of the context-wide ignore file.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// The ignore file that applies: `<dockerfile>.dockerignore` beside the
/// Dockerfile (named as given, not as a symlink resolves) when it exists,
/// otherwise `<root>/.dockerignore`; `None` when neither exists.
pub fn ignore_file_for(root: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    let specific = dockerfile.map(|df| {
        let mut name = df.as_os_str().to_owned();
        name.push(DOCKERIGNORE);
        PathBuf::from(name)
    });
    specific
        .into_iter()
        .chain(std::iter::once(root.join(DOCKERIGNORE)))
        .find(|p| p.exists())
}

/// Reads the ignore file that applies (see [`ignore_file_for`]) into a
/// matcher; an absent file gives an empty matcher.
pub(crate) fn load(
    root: &Path,
    dockerfile: Option<&Path>,
) -> Result<(PatternMatcher, Option<PathBuf>), ContextError> {
    let Some(file) = ignore_file_for(root, dockerfile) else {
        return Ok((PatternMatcher::default(), None));
    };
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((PatternMatcher::default(), None));
        }
        Err(e) => return Err(ContextError::io(file, e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    match PatternMatcher::from_ignore_text(&text) {
        Ok(pm) => Ok((pm, Some(file))),
        Err(source) => Err(ContextError::IgnoreFile { file, source }),
    }
}

/// The patterns of an ignore file with their 1-based line numbers: a UTF-8
/// BOM is dropped, lines *starting* with `#` are comments (an indented `#`
/// is a pattern, as in Docker), lines are trimmed, blank ones skipped, and
/// each pattern (after a `!`, itself trimmed) is cleaned with a leading `/`
/// removed.
pub fn read_patterns(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (idx, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = gopath::clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push((idx + 1, cleaned));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_patterns_like_ignorefile() {
        let text = "\u{feff}test1\n/test2\n/a/file/here\n\nlastfile\n# comment\n! /inverted/abs/path\n!\n! \r\n  #not-a-comment\n";
        let got: Vec<String> = read_patterns(text).into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            got,
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!",
                "#not-a-comment"
            ]
        );
        assert_eq!(read_patterns(text)[4].0, 7);
    }
}
