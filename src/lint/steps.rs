//! What each instruction does to the replayed stage, and the checks that
//! fire on it. Which words are expanded follows BuildKit's
//! `SupportsSingleWordExpansion` implementations.

use super::env::NON_ENV_ARGS;
use super::expose::split_port;
use super::rules;
use super::secrets::looks_secret;
use super::stages::Checker;
use crate::dockerfile::{Args, Instruction, Span, Word};
use crate::shell::EnvLookup;

/// COPY/ADD flags whose values BuildKit expands.
const EXPANDED_COPY_FLAGS: [&str; 3] = ["chown", "chmod", "checksum"];

impl Checker<'_, '_> {
    /// ENV: every key and value is expanded with the environment from before
    /// the instruction (so `ENV A=1 B=$A` does not see the new A), then set.
    pub(super) fn env(&mut self, instruction: &Instruction) {
        let Args::Pairs(pairs) = &instruction.args else {
            return;
        };
        let mut assigned = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let key = self.expand(&pair.key.text, pair.key.span);
            let value = self.expand(&pair.value.text, pair.value.span);
            let name = key.as_deref().unwrap_or(&pair.key.text);
            self.secret("ENV", name, pair.key.span);
            if let (Some(key), Some(value)) = (key, value) {
                assigned.push((key, value));
            }
        }
        if let Some(env) = self.state.env.as_mut() {
            for (key, value) in assigned {
                env.vars.push(key, value);
            }
        }
    }

    /// LABEL: keys and values are expanded; nothing is set.
    pub(super) fn label(&mut self, instruction: &Instruction) {
        let Args::Pairs(pairs) = &instruction.args else {
            return;
        };
        for pair in pairs {
            self.expand(&pair.key.text, pair.key.span);
            self.expand(&pair.value.text, pair.value.span);
        }
    }

    /// ARG: one name at a time, so `ARG A=1 B=$A` sees A. A default is
    /// expanded; a bare name takes the global value of that name, if any.
    pub(super) fn arg(&mut self, instruction: &Instruction) {
        for word in instruction.args.words() {
            let (name, default) = match word.text.split_once('=') {
                Some((name, default)) => (name, Some(default)),
                None => (word.text.as_str(), None),
            };
            self.secret("ARG", name, word.span);
            let value = match default {
                Some(default) => self.expand(default, word.span),
                None => self.globals.get(name).map(str::to_string),
            };
            let Some(env) = self.state.env.as_mut() else {
                continue;
            };
            if let Some(value) = value.filter(|_| !NON_ENV_ARGS.contains(&name)) {
                env.vars.push(name, value);
            }
            env.args.push(name.to_string());
        }
    }

    /// COPY/ADD: the expanded flags, every source and the destination, and
    /// the bodies of heredocs with an unquoted delimiter.
    pub(super) fn copy(&mut self, instruction: &Instruction) {
        for flag in &instruction.flags {
            let Some((name, value)) = flag.text.trim_start_matches('-').split_once('=') else {
                continue;
            };
            if EXPANDED_COPY_FLAGS.contains(&name) {
                self.expand(value, flag.span);
            }
        }
        for word in instruction.args.words() {
            // `<<EOF` names a heredoc, it is not a path.
            if !word.text.starts_with("<<") {
                self.expand(&word.text, word.span);
            }
        }
        let raw = self.raw_lexer.clone();
        for heredoc in instruction.heredocs.iter().filter(|h| h.expand) {
            self.expand_with(&raw, &heredoc.body(), heredoc.span);
        }
    }

    /// WORKDIR: WorkdirRelativePath fires on the first WORKDIR of a stage
    /// chain when it is relative; later ones build on an absolute path
    /// anyway once the first is fixed.
    pub(super) fn workdir(&mut self, instruction: &Instruction) {
        let Some(word) = instruction.args.words().first() else {
            return;
        };
        let path = self.value_of(&word.text, word.span);
        let first = !self.state.workdir_set;
        self.state.workdir_set = true;
        let Some(path) = path.filter(|p| first && !is_absolute(p)) else {
            return;
        };
        self.sink.report(
            &rules::WORKDIR_RELATIVE_PATH,
            word.span,
            rules::workdir_relative_path(&path),
            Some(format!(
                "use an absolute path, such as {}",
                rules::go_quote(&format!("/{path}"))
            )),
        );
    }

    /// EXPOSE: ExposeProtoCasing and ExposeInvalidFormat on each expanded port.
    pub(super) fn expose(&mut self, instruction: &Instruction) {
        for word in instruction.args.words() {
            for port in self.fields_of(&word.text).unwrap_or_default() {
                self.check_port(&port, word);
            }
        }
    }

    fn check_port(&mut self, port: &str, word: &Word) {
        let Some(spec) = split_port(port) else {
            return;
        };
        if spec.proto_not_lowercase() {
            self.sink.report(
                &rules::EXPOSE_PROTO_CASING,
                word.span,
                rules::expose_proto_casing(port),
                Some(format!("write '{}'", port.to_lowercase())),
            );
        }
        if spec.maps_host() {
            self.sink.report(
                &rules::EXPOSE_INVALID_FORMAT,
                word.span,
                rules::expose_invalid_format(port),
                Some("EXPOSE takes PORT[/PROTOCOL]; publish ports when running the container (docker run -p)".into()),
            );
        }
    }

    /// MultipleInstructionsDisallowed: reported at the earlier instruction,
    /// the one that has no effect.
    pub(super) fn once(&mut self, instruction: &Instruction) {
        let Some(previous) = self
            .state
            .once
            .record(instruction.keyword, instruction.name.span)
        else {
            return;
        };
        let keyword = &instruction.name.text;
        self.sink.report(
            &rules::MULTIPLE_INSTRUCTIONS_DISALLOWED,
            previous,
            rules::multiple_instructions_disallowed(keyword),
            Some(format!(
                "remove this {keyword}: a later one in the stage replaces it"
            )),
        );
    }

    /// JSONArgsRecommended: a shell-form CMD/ENTRYPOINT runs under `/bin/sh
    /// -c`, which does not pass signals on. Not reported once a SHELL
    /// instruction made the shell an explicit choice.
    pub(super) fn json_args(&mut self, instruction: &Instruction) {
        if instruction.json || self.state.shell_set {
            return;
        }
        let keyword = &instruction.name.text;
        self.sink.report(
            &rules::JSON_ARGS_RECOMMENDED,
            instruction.name.span,
            rules::json_args_recommended(keyword),
            Some(format!(
                "use the exec form: {} [\"executable\", \"arg\"]",
                keyword.to_uppercase()
            )),
        );
    }

    fn secret(&mut self, instruction: &str, name: &str, span: Span) {
        if looks_secret(name) {
            self.sink.report(
                &rules::SECRETS_USED_IN_ARG_OR_ENV,
                span,
                rules::secrets_used_in_arg_or_env(instruction, name),
                Some("pass secrets with RUN --mount=type=secret instead; ARG and ENV values stay in the image".into()),
            );
        }
    }
}

/// An absolute WORKDIR. BuildKit judges by the stage's OS, which lint does
/// not know; a drive-letter or backslash-rooted path only makes sense on a
/// Windows image, so those count as absolute too rather than be reported.
fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'/' | b'\\');
    path.starts_with('/') || path.starts_with('\\') || drive
}

#[cfg(test)]
mod tests {
    use super::is_absolute;

    #[test]
    fn unix_and_windows_absolute_paths() {
        for path in ["/app", "C:/bin", "c:\\tools", "\\share"] {
            assert!(is_absolute(path), "{path}");
        }
        for path in ["app", "./x", "C:", "C:bin", ""] {
            assert!(!is_absolute(path), "{path}");
        }
    }
}
