//! Copying a directory tree with everything a root filesystem holds (owners,
//! modes, times, xattrs, hard links, device nodes). Debian's `cp -a` does it
//! exactly, in one well-tested pass, and is always present where rbuild runs.

use super::SnapshotError;
use std::path::Path;

/// Copies `from` to the new path `to`.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), SnapshotError> {
    let output = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(SnapshotError::io(from))?;
    if output.status.success() {
        return Ok(());
    }
    Err(SnapshotError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        reason: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}
