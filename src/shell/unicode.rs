//! Character classes exactly as Go's `unicode` package defines them.
//!
//! BuildKit decides where a variable name ends with `unicode.IsLetter` and
//! `unicode.IsDigit`. Rust's `char::is_alphabetic` / `is_numeric` use wider
//! Unicode properties (Alphabetic includes combining marks and letter numbers,
//! numeric includes `Nl`/`No`), so `$Ⅻx` or `$a\u{345}` would end the name in a
//! different place. Hence our own tables of general categories L and Nd.

use super::unicode_tables::{DECIMAL_DIGIT, LETTER};

/// Go's `unicode.IsLetter`: general category L.
pub(super) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_ranges(c, LETTER)
}

/// Go's `unicode.IsDigit`: general category Nd (not just ASCII digits).
pub(super) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_ranges(c, DECIMAL_DIGIT)
}

/// Go's `unicode.IsSpace`. Both languages use the Unicode White_Space
/// property, so the standard library answer is the same set.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

fn in_ranges(c: char, ranges: &[(u32, u32)]) -> bool {
    let cp = u32::from(c);
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_follow_general_category_l() {
        assert!(is_letter('a') && is_letter('Z') && is_letter('한') && is_letter('ª'));
        // Alphabetic in Rust, but not a letter for Go: letter number, combining mark.
        assert!('Ⅻ'.is_alphabetic() && !is_letter('Ⅻ'));
        assert!('\u{345}'.is_alphabetic() && !is_letter('\u{345}'));
        assert!(!is_letter('_') && !is_letter('1') && !is_letter('×'));
    }

    #[test]
    fn digits_follow_general_category_nd() {
        assert!(is_digit('0') && is_digit('9') && is_digit('٣') && is_digit('９'));
        assert!(!is_digit('²') && !is_digit('Ⅻ') && !is_digit('a'));
    }
}
