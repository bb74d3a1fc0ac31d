//! What variables a step can see, as BuildKit's dispatcher tracks them, and
//! the "did you mean" search over them.

use crate::ir::{edit_distance, BuildPlan};
use crate::shell::{EnvList, EnvLookup, Lexer};

/// The PATH BuildKit gives a stage whose image sets none (`FROM scratch`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// ARGs that never become environment variables (BuildKit's `nonEnvArgs`),
/// so they are never reported as undefined either.
pub(super) const NON_ENV_ARGS: [&str; 2] =
    ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// The variables of a stage whose whole history is in this Dockerfile
/// (`FROM scratch`, or a chain of stages ending in it).
#[derive(Debug, Clone)]
pub(super) struct KnownEnv {
    /// What `$VAR` expands to: ENV values and ARGs that have a value.
    pub vars: EnvList,
    /// Every name declared with ARG. A bare `ARG x` with no value is not in
    /// `vars` (it expands to nothing), yet BuildKit does not report `$x`.
    pub args: Vec<String>,
}

impl KnownEnv {
    /// A scratch stage: BuildKit always sets PATH.
    pub fn scratch() -> Self {
        let mut vars = EnvList::new();
        vars.push("PATH", DEFAULT_PATH);
        KnownEnv {
            vars,
            args: Vec::new(),
        }
    }

    /// Whether `$name` counts as defined here.
    pub fn defines(&self, name: &str) -> bool {
        self.vars.get(name).is_some()
            || self.args.iter().any(|a| a == name)
            || NON_ENV_ARGS.contains(&name)
    }
}

/// BuildKit's suggestion search (`util/suggest`): case-sensitive, the first
/// candidate at the smallest edit distance below 3; none when a candidate is
/// the name itself.
pub(super) fn suggest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            return None;
        }
        let distance = edit_distance(name, candidate);
        if distance < best.map_or(3, |(d, _)| d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The build platform as BuildKit names it (`GOARCH` spelling).
fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    ("linux", arch)
}

/// The ARGs BuildKit predefines for every build (`defaultArgs`): usable in
/// FROM, and in a stage once declared there with a bare `ARG NAME`.
fn predefined_args(target_stage: &str) -> EnvList {
    let (os, arch) = host_platform();
    let platform = format!("{os}/{arch}");
    let mut env = EnvList::new();
    for prefix in ["BUILD", "TARGET"] {
        env.push(format!("{prefix}PLATFORM"), platform.clone());
        env.push(format!("{prefix}OS"), os);
        env.push(format!("{prefix}OSVERSION"), "");
        env.push(format!("{prefix}ARCH"), arch);
        env.push(format!("{prefix}VARIANT"), "");
    }
    env.push("TARGETSTAGE", target_stage);
    env
}

/// The global scope: predefined ARGs, then the ARGs before the first FROM
/// with their defaults expanded in order (no build args: lint sees the
/// Dockerfile as written).
pub(super) fn global_args(plan: &BuildPlan, lexer: &Lexer) -> EnvList {
    let target = plan
        .stages
        .last()
        .and_then(|s| s.name.as_deref())
        .unwrap_or("");
    let mut env = predefined_args(target);
    for arg in &plan.meta_args {
        let Some(default) = &arg.default else {
            continue;
        };
        // A default that does not expand would fail the build; lint skips it.
        if let Ok(value) = lexer.process_word(default, &env) {
            env.push(arg.name.clone(), value);
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_follow_buildkit() {
        let opts = ["PATH", "HOME", "foo"];
        assert_eq!(suggest("PAHT", opts), Some("PATH"));
        assert_eq!(suggest("fooo", opts), Some("foo"));
        assert_eq!(suggest("path", opts), None, "case-sensitive, distance 4");
        assert_eq!(suggest("xyzzy", opts), None);
    }

    #[test]
    fn scratch_has_path_and_sbom_args_never_count() {
        let env = KnownEnv::scratch();
        assert!(env.defines("PATH"));
        assert!(env.defines("BUILDKIT_SBOM_SCAN_STAGE"));
        assert!(!env.defines("HOME"));
    }
}
