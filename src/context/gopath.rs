//! Small path helpers that follow Go's `path/filepath` rules, which Docker's
//! pattern and source handling is written against.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Lexical cleaning as Go's `filepath.Clean` does it on Unix: repeated
/// slashes collapse, `.` elements go, `..` removes the element before it
/// (never above a leading `/`), a trailing slash goes, and "" becomes ".".
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Splits a COPY source (or any path inside the context) into its normal
/// components after cleaning it as an absolute path: `..` never climbs above
/// the context root and a leading `/` means the root.
pub(crate) fn rooted_components(src: &[u8]) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for part in src.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other.to_vec()),
        }
    }
    parts
}

/// Joins byte components into a relative path ("" for the root).
pub(crate) fn join(parts: &[Vec<u8>]) -> PathBuf {
    parts.iter().map(|p| OsStr::from_bytes(p)).collect()
}

/// A relative path as the slash-separated string patterns are matched
/// against. Names that are not UTF-8 are matched in their lossy form, as Go
/// decodes a bad byte to U+FFFD.
pub(crate) fn slash_string(rel: &Path) -> String {
    let mut out = String::new();
    for comp in rel.components() {
        if let Component::Normal(name) = comp {
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(&name.to_string_lossy());
        }
    }
    out
}

/// The relative path cleaned to normal components only (no `.`, `..`, `/`).
pub(crate) fn normalize_rel(rel: &Path) -> PathBuf {
    let parts = rooted_components(rel.as_os_str().as_bytes());
    join(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("a/b/", "a/b"),
            ("./a", "a"),
            ("/a/../..", "/"),
            ("a/../..", ".."),
            ("//a//b/./c", "/a/b/c"),
            ("../../a", "../../a"),
            ("a/b/../../c", "c"),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn rooted_components_clamp_at_root() {
        let parts = rooted_components(b"../../x/./y/../z");
        assert_eq!(join(&parts), PathBuf::from("x/z"));
    }
}
