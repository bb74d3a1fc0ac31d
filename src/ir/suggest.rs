//! "Did you mean …?" hints for misspelled words.

/// The closest candidate within an edit distance of 2 (BuildKit's rule for
/// its "did you mean" hints), if any; words of one character get none.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    if word.chars().count() <= 1 {
        return None;
    }
    let limit = 2;
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest("COPPY", ["ADD", "COPY", "CMD"]), Some("COPY"));
        assert_eq!(closest("mont", ["mount", "network"]), Some("mount"));
        assert_eq!(closest("zzzzzz", ["mount", "network"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
