//! BuildKit's s-expression dump of a parsed Dockerfile (`rbuild parse --format
//! buildkit-dump`), the format of BuildKit's parser golden files.

use super::ast::{Args, Dockerfile, Instruction, Keyword};
use std::fmt::Write;

/// One line per instruction: `(keyword ["--flag" ...] "arg" ...)`.
pub fn dump(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    for instruction in &dockerfile.instructions {
        out.push('(');
        dump_instruction(instruction, &mut out);
        out.push_str(")\n");
    }
    out
}

fn dump_instruction(instruction: &Instruction, out: &mut String) {
    out.push_str(&instruction.name.text.to_lowercase());
    if !instruction.flags.is_empty() {
        out.push_str(" [");
        for (i, flag) in instruction.flags.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&go_quote(&flag.text));
        }
        out.push(']');
    }
    let mut arg = |s: &str| {
        out.push(' ');
        out.push_str(&go_quote(s));
    };
    if instruction.keyword == Keyword::Unknown {
        // Unknown instructions keep no arguments.
        arg("");
        return;
    }
    match &instruction.args {
        Args::Empty => {}
        Args::Words(words) => words.iter().for_each(|w| arg(&w.text)),
        Args::Pairs(pairs) => {
            for pair in pairs {
                arg(&pair.key.text);
                arg(&pair.value.text);
                arg(if pair.equals { "=" } else { "" });
            }
        }
        Args::Health { kind, command } => {
            arg(&kind.text);
            command.iter().for_each(|w| arg(&w.text));
        }
        Args::OnBuild(inner) => {
            out.push_str(" (");
            dump_instruction(inner, out);
            out.push(')');
        }
    }
}

/// Go's `strconv.Quote`: printable characters as they are, the usual
/// backslash escapes, `\xNN` for other ASCII controls, `\uNNNN` otherwise.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint`: no controls, and no spaces other
/// than U+0020.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control() || c.is_whitespace() || matches!(c as u32, 0xad | 0xfeff | 0x200b..=0x200f))
}
