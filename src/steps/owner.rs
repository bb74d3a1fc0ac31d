//! `--chown` and WORKDIR owners: user and group names resolved in the image.

use crate::snapshot::RootView;
use crate::solver::BuildError;
use std::path::Path;

/// Resolves `user[:group]` (names or numbers) through the image's
/// `/etc/passwd` and `/etc/group`. Without a group, a name gets its passwd
/// primary group and a number the same number, as BuildKit's copy does.
pub fn resolve_owner(view: Option<&RootView>, spec: &str) -> Result<(u32, u32), BuildError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = view.and_then(|v| v.read_file(Path::new("/etc/passwd")));
    let lookup_user = |name: &str| -> Option<(u32, u32)> {
        passwd.as_deref()?.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[0] == name)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
    };
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => lookup_user(user).ok_or_else(|| {
            BuildError::Invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        })?,
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = view.and_then(|v| v.read_file(Path::new("/etc/group")));
                groups
                    .as_deref()
                    .and_then(|text| {
                        text.lines().find_map(|line| {
                            let f: Vec<&str> = line.split(':').collect();
                            (f.len() >= 3 && f[0] == g).then(|| f[2].parse().ok())?
                        })
                    })
                    .ok_or_else(|| {
                        BuildError::Invalid(format!(
                            "unable to find group {g}: no matching entries in group file"
                        ))
                    })?
            }
        },
    };
    Ok((uid, gid))
}
