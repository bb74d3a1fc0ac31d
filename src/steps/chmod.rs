//! `--chmod` values applied to copied entries: octal sets the mode, symbolic
//! clauses (`u=rw,go-w`, `a+X`) apply like chmod(1).

use crate::solver::BuildError;

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Bits of who: 0o4700 (u), 0o2070 (g), 0o1007 (o)... as masks.
    who: u32,
    op: char,
    perms: String,
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

pub fn parse_symbolic(text: &str) -> Result<ModeChange, BuildError> {
    let bad = || BuildError::Invalid(format!("invalid chmod parameter: {text:?}"));
    let mut clauses = Vec::new();
    for clause in text.split(',') {
        let who_end = clause.find(['+', '-', '=']).ok_or_else(bad)?;
        let mut who = 0;
        for c in clause[..who_end].chars() {
            who |= match c {
                'u' => USER,
                'g' => GROUP,
                'o' => OTHER,
                'a' => USER | GROUP | OTHER,
                _ => return Err(bad()),
            };
        }
        if who == 0 {
            who = USER | GROUP | OTHER;
        }
        let rest = &clause[who_end..];
        let op = rest.chars().next().ok_or_else(bad)?;
        let perms = &rest[1..];
        if perms.chars().any(|c| !"rwxXst".contains(c)) {
            return Err(bad());
        }
        clauses.push(Clause {
            who,
            op,
            perms: perms.to_string(),
        });
    }
    Ok(ModeChange::Symbolic(clauses))
}

impl ModeChange {
    /// The new mode of an entry whose current mode is `mode`.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            ModeChange::Octal(m) => *m,
            ModeChange::Symbolic(clauses) => clauses
                .iter()
                .fold(mode & 0o7777, |m, c| c.apply(m, is_dir)),
        }
    }
}

impl Clause {
    fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let any_exec = mode & 0o111 != 0;
        let mut bits = 0;
        for p in self.perms.chars() {
            bits |= match p {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || any_exec => 0o111,
                's' => 0o6000,
                't' => 0o1000,
                _ => 0,
            };
        }
        let bits = bits & self.who;
        match self.op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !(self.who & 0o7777)) | bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(text: &str, mode: u32, is_dir: bool) -> u32 {
        parse_symbolic(text).unwrap().apply(mode, is_dir)
    }

    #[test]
    fn symbolic_modes_follow_chmod() {
        assert_eq!(sym("go-w", 0o666, false), 0o644);
        assert_eq!(sym("u=rw,g=r,o=r", 0o777, false), 0o644);
        assert_eq!(sym("a+X", 0o644, true), 0o755);
        assert_eq!(sym("a+X", 0o644, false), 0o644);
        assert_eq!(sym("u+rw,g+r,o-x,o+w", 0o001, false), 0o642);
        assert!(parse_symbolic("64a").is_err());
    }
}
