//! Who a RUN step runs as: USER resolved through the image's passwd and
//! group files the way BuildKit does for processes.

use crate::snapshot::RootView;
use crate::solver::BuildError;
use std::path::Path;

/// Who a RUN step runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

fn passwd_entry<'a>(passwd: &'a str, user: &str) -> Option<Vec<&'a str>> {
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && (f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user)))
}

/// Resolves USER for RUN as BuildKit does: names and ids through the image's
/// `/etc/passwd` and `/etc/group`; a user without `:group` gets its primary
/// group and the supplementary groups that list it (root included); an id
/// with no passwd entry runs with gid 0 and no extra groups; an explicit group
/// gives no supplementary groups.
pub fn resolve_run_user(view: &RootView, spec: &str) -> Result<RunUser, BuildError> {
    let default_root = spec.is_empty();
    let spec = if default_root { "root" } else { spec };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = view.read_file(Path::new("/etc/passwd")).unwrap_or_default();
    let groups = view.read_file(Path::new("/etc/group")).unwrap_or_default();
    let entry = passwd_entry(&passwd, user);
    let (uid, primary, name, home) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].to_string()),
            f[5].to_string(),
        ),
        (None, Ok(uid)) => (uid, 0, None, "/".to_string()),
        // No USER and no passwd entry for root (e.g. FROM scratch): root.
        (None, Err(_)) if default_root => (0, 0, None, "/root".to_string()),
        (None, Err(_)) => {
            return Err(BuildError::Invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )))
        }
    };
    let group_id = |g: &str| -> Result<u32, BuildError> {
        if let Ok(id) = g.parse() {
            return Ok(id);
        }
        groups
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                BuildError::Invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })
    };
    let (gid, additional_gids) = match (group, &name) {
        (Some(g), _) => (group_id(g)?, Vec::new()),
        (None, Some(name)) => {
            let extra = groups
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name))
                .filter_map(|f| f[2].parse().ok())
                .filter(|g| *g != primary)
                .collect();
            (primary, extra)
        }
        (None, None) => (0, Vec::new()),
    };
    Ok(RunUser {
        uid,
        gid,
        additional_gids,
        home: if home.is_empty() { "/".into() } else { home },
    })
}
