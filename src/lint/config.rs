//! The `# check=` parser directive: which checks to skip and whether
//! warnings fail the build, read as BuildKit's `ParseLintOptions` reads it.

use crate::dockerfile::{Dockerfile, Span};
use serde::Serialize;

/// Settings from `# check=skip=A,B;error=true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LintConfig {
    /// `skip=all`: no check runs.
    pub skip_all: bool,
    /// Rule names to leave out (compared exactly, as BuildKit does).
    pub skip: Vec<String>,
    /// `error=true`: the build fails when any check fires.
    pub error: bool,
}

impl LintConfig {
    /// Parses a `# check=` directive value: `;`-separated `key=value` options.
    ///
    /// `skip` takes `all` or a comma-separated list of rule names; `error`
    /// takes a boolean as Go's `strconv.ParseBool` spells it. A segment with
    /// no `=` or a bad boolean is an error. Unknown keys are ignored so a
    /// Dockerfile written for a newer BuildKit (`experimental=...`) still
    /// builds; BuildKit itself rejects them.
    pub fn parse(value: &str) -> Result<LintConfig, String> {
        let mut config = LintConfig::default();
        for part in value.split(';') {
            if part.trim().is_empty() {
                continue;
            }
            let Some((key, val)) = part.split_once('=') else {
                return Err(format!("invalid check option {:?}", part.trim()));
            };
            match key.trim() {
                "skip" => config.set_skip(val.trim()),
                "error" => config.error = parse_bool(part, val.trim())?,
                _ => {}
            }
        }
        Ok(config)
    }

    fn set_skip(&mut self, value: &str) {
        if value == "all" {
            self.skip_all = true;
            return;
        }
        self.skip = value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
    }

    /// Whether the rule called `name` is switched off.
    pub fn skips(&self, name: &str) -> bool {
        self.skip_all || self.skip.iter().any(|s| s == name)
    }

    /// The configuration the Dockerfile's `# check=` directive asks for. A
    /// directive that does not parse is returned as an error with its
    /// location, and every check runs, so a typo does not hide warnings.
    pub fn from_dockerfile(dockerfile: &Dockerfile) -> (LintConfig, Option<(String, Span)>) {
        let Some(directive) = dockerfile.directives.iter().find(|d| d.name == "check") else {
            return (LintConfig::default(), None);
        };
        match LintConfig::parse(&directive.value) {
            Ok(config) => (config, None),
            Err(message) => (LintConfig::default(), Some((message, directive.span))),
        }
    }
}

/// Go's `strconv.ParseBool` spellings.
fn parse_bool(option: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "failed to parse check option {:?}: {value:?} is not a boolean (use true or false)",
            option.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_list_and_error() {
        let c = LintConfig::parse("skip=A, B ;error=true").expect("valid");
        assert_eq!(c.skip, vec!["A", "B"]);
        assert!(c.error && !c.skip_all);
        assert!(c.skips("B") && !c.skips("b"));
    }

    #[test]
    fn skip_all_and_unknown_keys() {
        let c = LintConfig::parse("skip=all;experimental=all").expect("valid");
        assert!(c.skip_all && c.skips("Anything"));
        assert_eq!(LintConfig::parse("").expect("empty"), LintConfig::default());
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(LintConfig::parse("error=maybe")
            .unwrap_err()
            .contains("\"error=maybe\""));
        assert_eq!(
            LintConfig::parse("skip").unwrap_err(),
            "invalid check option \"skip\""
        );
    }
}
