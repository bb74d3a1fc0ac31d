//! Every step's full output, kept in the store for the last builds:
//! `<store>/logs/<start time>-<pid>/<step>.log`, with `<store>/logs/last`
//! pointing at the newest. A failure names the file, so output the terminal
//! did not keep (or `quiet` hid) can still be read. Only the newest
//! [`KEEP`] builds' logs stay.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const KEEP: usize = 10;

pub struct StepLogs {
    dir: PathBuf,
    files: Mutex<HashMap<usize, File>>,
}

impl StepLogs {
    /// A fresh log directory under `root` (the store's `logs/`); `None` when
    /// it cannot be made (logs are a help, never a reason to fail).
    pub fn create(root: &Path) -> Option<StepLogs> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = root.join(format!("{secs}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        prune(root);
        let last = root.join("last");
        let temp = root.join(format!(".last-{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        if std::os::unix::fs::symlink(dir.file_name()?, &temp).is_ok() {
            let _ = std::fs::rename(&temp, &last);
        }
        Some(StepLogs {
            dir,
            files: Mutex::new(HashMap::new()),
        })
    }

    pub fn path(&self, step: usize) -> PathBuf {
        self.dir.join(format!("{step}.log"))
    }

    pub fn start(&self, step: usize, label: &str) {
        if let Ok(mut file) = File::create(self.path(step)) {
            let _ = writeln!(file, "# {label}");
            self.files.lock().expect("logs").insert(step, file);
        }
    }

    pub fn line(&self, step: usize, text: &str) {
        if let Some(file) = self.files.lock().expect("logs").get_mut(&step) {
            let _ = writeln!(file, "{text}");
        }
    }

    pub fn end(&self, step: usize) {
        self.files.lock().expect("logs").remove(&step);
    }
}

/// Removes all but the newest [`KEEP`] log directories.
fn prune(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    // Names start with the start time in seconds: newest last.
    dirs.sort_by_key(|d| {
        d.file_name()
            .and_then(|n| n.to_str()?.split('-').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let excess = dirs.len().saturating_sub(KEEP);
    for old in &dirs[..excess] {
        let _ = std::fs::remove_dir_all(old);
    }
}
