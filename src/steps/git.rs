//! ADD of a git repository: `https://host/repo.git#ref[:subdir]`,
//! `git://...`, `git@host:repo.git`. The repository is checked out at the
//! ref (a branch, a tag or a commit; the default branch without one) with
//! its submodules, by Debian's `git` (the reference implementation, and
//! the credentials, proxies and protocols users have set up for it). The
//! commit goes into the step's cache key; files get the commit's time as
//! their mtime, so a checkout of the same commit gives the same layer; the
//! `.git` directory is dropped unless `--keep-git-dir`.

use crate::ir::{Copy, CopySource};
use crate::solver::state::StageState;
use crate::solver::{Build, BuildError};
use crate::store::{Store, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A checked-out repository, kept until the layer is written.
pub struct Checkout {
    pub _temp: TempDir,
    /// The directory whose contents the ADD copies (the subdir, if given).
    pub root: PathBuf,
    /// The full commit hash.
    pub commit: String,
    /// What was asked for, for the cache key and messages.
    pub source: String,
}

/// `URL#ref:subdir` split into its parts.
fn split(source: &str) -> (&str, Option<&str>, Option<&str>) {
    let (url, fragment) = match source.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (source, None),
    };
    let (reference, subdir) = match fragment {
        Some(f) => match f.split_once(':') {
            Some((r, s)) => (Some(r), Some(s)),
            None => (Some(f), None),
        },
        None => (None, None),
    };
    (
        url,
        reference.filter(|r| !r.is_empty()),
        subdir.filter(|s| !s.is_empty()),
    )
}

/// Runs git; its error output becomes the message.
fn git(source: &str, dir: Option<&Path>, args: &[&str]) -> Result<String, BuildError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    // Never stop to ask for a password: a build has no one to answer.
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    let output = cmd.output().map_err(|e| {
        BuildError::Invalid(format!(
            "ADD {source}: running git ({e}); ADD of a git repository needs git (apt-get install git)"
        ))
    })?;
    if !output.status.success() {
        return Err(BuildError::Invalid(format!(
            "ADD {source}: git {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Checks `source` out into a store temp dir.
pub fn checkout(store: &Store, source: &str, keep_git_dir: bool) -> Result<Checkout, BuildError> {
    let (url, reference, subdir) = split(source);
    if reference.is_some_and(|r| r.starts_with('-')) {
        return Err(BuildError::Invalid(format!(
            "ADD {source}: invalid git ref"
        )));
    }
    let temp = store.temp_dir()?;
    let dir = temp.path().join("repo");
    let dir_arg = dir.to_string_lossy().into_owned();
    git(
        source,
        None,
        &["clone", "--quiet", "--no-checkout", url, &dir_arg],
    )?;
    // A branch or tag name, else a commit (or its prefix).
    let commit = match reference {
        None => git(
            source,
            Some(&dir),
            &["rev-parse", "--verify", "HEAD^{commit}"],
        )?,
        Some(r) => [
            format!("refs/tags/{r}"),
            format!("refs/remotes/origin/{r}"),
            r.to_string(),
        ]
        .iter()
        .find_map(|candidate| {
            let spec = format!("{candidate}^{{commit}}");
            git(
                source,
                Some(&dir),
                &["rev-parse", "--verify", "--quiet", &spec],
            )
            .ok()
        })
        .ok_or_else(|| {
            BuildError::Invalid(format!(
                "ADD {source}: no branch, tag or commit {r:?} in {url}"
            ))
        })?,
    };
    git(
        source,
        Some(&dir),
        &["checkout", "--quiet", "--detach", &commit],
    )?;
    git(
        source,
        Some(&dir),
        &["submodule", "update", "--quiet", "--init", "--recursive"],
    )?;
    let time: i64 = git(source, Some(&dir), &["show", "-s", "--format=%ct", &commit])?
        .parse()
        .unwrap_or(0);
    if !keep_git_dir {
        let dot_git = dir.join(".git");
        std::fs::remove_dir_all(&dot_git).map_err(BuildError::io(&dot_git))?;
    }
    set_times(&dir, time)?;
    let root = match subdir {
        Some(sub) => {
            let root = dir.join(sub.trim_start_matches('/'));
            // The subdir must stay inside the checkout.
            let real = root.canonicalize().map_err(BuildError::io(&root))?;
            if !real.starts_with(dir.canonicalize().map_err(BuildError::io(&dir))?)
                || !real.is_dir()
            {
                return Err(BuildError::Invalid(format!(
                    "ADD {source}: {sub:?} is not a directory in the repository"
                )));
            }
            real
        }
        None => dir,
    };
    Ok(Checkout {
        _temp: temp,
        root,
        commit,
        source: source.to_string(),
    })
}

/// Every file, directory and link gets the commit's time.
fn set_times(dir: &Path, seconds: i64) -> Result<(), BuildError> {
    let stamp = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    };
    // Children before their directories, whose mtime they would change.
    for entry in walkdir::WalkDir::new(dir).contents_first(true) {
        let entry =
            entry.map_err(|e| BuildError::Invalid(format!("walking {}: {e}", dir.display())))?;
        rustix::fs::utimensat(
            rustix::fs::CWD,
            entry.path(),
            &stamp,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| BuildError::io(entry.path())(e.into()))?;
    }
    Ok(())
}

/// Checks out an ADD's git repository source (its only source), as
/// `--keep-git-dir` says; `None` for other sources, where the flag is an
/// error.
pub fn git_source(
    b: &Build,
    state: &StageState,
    copy: &Copy,
) -> Result<Option<Checkout>, BuildError> {
    let source = match copy.sources.as_slice() {
        [CopySource::Path(p)] if copy.add && copy.from.is_none() => state.expand(p)?,
        _ => String::new(),
    };
    if !super::fetch::is_git(&source) {
        if copy.keep_git_dir {
            return Err(BuildError::Invalid(
                "--keep-git-dir applies to ADD of a git repository only".into(),
            ));
        }
        return Ok(None);
    }
    if copy.checksum.is_some() {
        return Err(BuildError::Invalid(format!(
            "--checksum requires an HTTP(S) file source, and {source} is a git repository"
        )));
    }
    checkout(b.store, &source, copy.keep_git_dir).map(Some)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sources_split_into_url_ref_and_subdir() {
        let split = super::split;
        assert_eq!(split("https://h/r.git"), ("https://h/r.git", None, None));
        assert_eq!(
            split("https://h/r.git#v1"),
            ("https://h/r.git", Some("v1"), None)
        );
        assert_eq!(
            split("https://h/r.git#main:docs"),
            ("https://h/r.git", Some("main"), Some("docs"))
        );
        assert_eq!(
            split("git@h:r.git#:sub"),
            ("git@h:r.git", None, Some("sub"))
        );
    }
}
