//! The step's private host directory: the mount point of its root and the
//! files bound over /etc/hosts, /etc/resolv.conf and /etc/hostname (bound,
//! never written into the root filesystem, so never captured in a layer).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{RunSpec, SandboxError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkPaths {
    pub dir: PathBuf,
    /// Where the step's root gets mounted (in the sandbox's namespace only).
    pub root: PathBuf,
    /// An empty lower dir for an overlay without lowers (FROM scratch).
    pub empty_lower: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    pub hostname: PathBuf,
}

impl WorkPaths {
    pub fn under(dir: &Path) -> WorkPaths {
        WorkPaths {
            dir: dir.to_path_buf(),
            root: dir.join("root"),
            empty_lower: dir.join("empty"),
            hosts: dir.join("hosts"),
            resolv_conf: dir.join("resolv.conf"),
            hostname: dir.join("hostname"),
        }
    }
}

/// The private directory, removed on drop.
pub(crate) struct WorkDir {
    pub paths: WorkPaths,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEPT: std::sync::Once = std::sync::Once::new();

const PREFIX: &str = "rbuild-sandbox-";

/// Removes private dirs left by rbuild processes that were SIGKILLed (their
/// mounts died with them; only the empty skeleton and three small files
/// remain). Runs once per process. A dir younger than an hour is kept even
/// if its pid is gone: that pid may live in another pid namespace sharing
/// this temp dir.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if old && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SandboxError + 'a {
    move |e| SandboxError::io(what, path, e)
}

impl WorkDir {
    /// Creates the directory in the system temp dir and writes the files.
    pub fn create(spec: &RunSpec) -> Result<WorkDir, SandboxError> {
        let hosts = hosts_file(&spec.hostname, &spec.extra_hosts)?;
        let base = std::env::temp_dir();
        SWEPT.call_once(|| sweep_stale(&base));
        let dir = loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "{PREFIX}{}-{}-{nanos:x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let dir = base.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(SandboxError::io("create sandbox dir", dir, e)),
            }
        };
        let work = WorkDir {
            paths: WorkPaths::under(&dir),
        };
        let p = &work.paths;
        for d in [&p.root, &p.empty_lower] {
            std::fs::create_dir(d).map_err(io_err("create sandbox dir", d))?;
        }
        let resolv = match std::fs::read("/etc/resolv.conf") {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(SandboxError::io("read", "/etc/resolv.conf", e)),
        };
        let hostname = format!("{}\n", spec.hostname);
        for (path, bytes) in [
            (&p.hosts, hosts.as_bytes()),
            (&p.resolv_conf, &resolv[..]),
            (&p.hostname, hostname.as_bytes()),
        ] {
            std::fs::write(path, bytes).map_err(io_err("write", path))?;
        }
        Ok(work)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Nothing is mounted here in our namespace: the mounts lived in the
        // sandbox's own mount namespace, gone with its processes.
        let _ = std::fs::remove_dir_all(&self.paths.dir);
    }
}

/// The step's /etc/hosts: BuildKit's localhost lines (with the hostname)
/// followed by the `--add-host` entries.
pub(crate) fn hosts_file(
    hostname: &str,
    extra_hosts: &[(String, String)],
) -> Result<String, SandboxError> {
    let mut out = String::from("127.0.0.1\tlocalhost");
    if !hostname.is_empty() {
        out.push(' ');
        out.push_str(hostname);
    }
    out.push_str("\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (name, ip) in extra_hosts {
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '\0');
        if bad(name) || bad(ip) {
            return Err(SandboxError::InvalidSpec {
                what: format!("--add-host {name:?}:{ip:?}"),
            });
        }
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    Ok(out)
}
