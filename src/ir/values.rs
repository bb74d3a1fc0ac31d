//! Small value grammars checked during lowering: Go durations, chmod modes,
//! stage names.

/// Parses a Go duration (`1m30s`, `500ms`, `0`) into nanoseconds.
pub fn parse_go_duration(text: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    if body.starts_with('-') {
        return Err("must not be negative".into());
    }
    if body.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: f64 = 0.0;
    let mut rest = body;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("missing unit (use ns, us, ms, s, m or h)")?;
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("bad number in {text:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            unit => return Err(format!("unknown unit {unit:?}")),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if total > u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(total as u64)
}

/// Octal mode `0` to `07777`.
pub fn parse_octal_mode(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// Symbolic modes as chmod(1) takes them: `[ugoa]*([-+=][rwxXst]*)+`, comma
/// separated.
pub fn is_symbolic_mode(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').all(|clause| {
            let ops = clause.trim_start_matches(['u', 'g', 'o', 'a']);
            !ops.is_empty()
                && ops.starts_with(['+', '-', '='])
                && ops
                    .chars()
                    .all(|c| matches!(c, '+' | '-' | '=' | 'r' | 'w' | 'x' | 'X' | 's' | 't'))
        })
}

/// BuildKit's stage-name rule: a letter, then letters, digits, `-`, `_`, `.`.
pub fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("1x").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_octal_mode("0755"), Some(0o755));
        assert_eq!(parse_octal_mode("0"), Some(0));
        assert_eq!(parse_octal_mode("10000"), None);
        assert_eq!(parse_octal_mode("64a"), None);
        assert!(is_symbolic_mode("u=rw,g=r,o=r"));
        assert!(is_symbolic_mode("a+X"));
        assert!(is_symbolic_mode("go-w"));
        assert!(!is_symbolic_mode("64a"));
    }

    #[test]
    fn stage_names() {
        assert!(is_valid_stage_name("build-env_1.0"));
        assert!(!is_valid_stage_name("1st"));
        assert!(!is_valid_stage_name("a/b"));
    }
}
