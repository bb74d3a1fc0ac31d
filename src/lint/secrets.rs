//! SecretsUsedInArgOrEnv: ARG and ENV names that look like they hold a
//! secret, by BuildKit's word list.

/// Words that mark a secret when they make up a whole `_`-separated part of
/// the name (`API_KEY`, `GITHUB_TOKEN`, `AUTH`), case-insensitively.
const SECRET_WORDS: [&str; 10] = [
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
    "token",
];

/// A part that says the value is meant to be seen (`PUBLIC_KEY`).
const ALLOW_WORDS: [&str; 1] = ["public"];

fn has_part(name: &str, words: &[&str]) -> bool {
    name.split('_')
        .any(|part| words.iter().any(|w| part.eq_ignore_ascii_case(w)))
}

/// Whether an ARG or ENV called `name` looks like it carries a secret.
pub(super) fn looks_secret(name: &str) -> bool {
    has_part(name, &SECRET_WORDS) && !has_part(name, &ALLOW_WORDS)
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn whole_parts_only() {
        for name in [
            "API_KEY",
            "github_token",
            "AUTH",
            "db_Password_file",
            "SECRET",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "KEYRING",
            "MONKEY",
            "PUBLIC_KEY",
            "AUTHOR",
            "TOKENS_DIR",
            "API-KEY",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
