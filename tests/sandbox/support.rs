//! Helpers for `tests/sandbox.rs`: a busybox image on overlayfs, running a
//! step and collecting its output, and checks for leftover mounts and
//! processes.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rbuild::sandbox::{self, Network, RootfsSpec, RunOutcome, RunSpec, SandboxError, Stream};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "hostname", "ps", "mount", "wc", "touch", "rm", "mkdir", "nc",
    "env", "sleep", "grep", "pwd", "true", "false", "head",
];

/// Sandbox tests run one at a time, so "no child process remains" is
/// checked against this test's own children only.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A busybox image as one overlay lower dir, with an empty upper.
pub struct Image {
    pub dir: tempfile::TempDir,
}

impl Image {
    pub fn new() -> Option<Image> {
        if !rustix::process::geteuid().is_root() {
            crate::skip::skip("the sandbox tests need root");
            return None;
        }
        let Some(busybox) = busybox() else {
            crate::skip::skip("no busybox (apt-get install busybox-static)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        for d in [
            "bin",
            "etc",
            "tmp",
            "root",
            "home/user",
            "data/dir",
            "proc",
            "dev",
            "sys",
        ] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::set_permissions(lower.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        std::fs::copy(busybox, lower.join("bin/busybox")).unwrap();
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", lower.join("bin").join(applet)).unwrap();
        }
        let passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n";
        std::fs::write(lower.join("etc/passwd"), passwd).unwrap();
        std::fs::write(lower.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
        for f in ["keep", "gone", "dir/inner"] {
            std::fs::write(lower.join("data").join(f), "lower\n").unwrap();
        }
        for d in ["upper", "work"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        Some(Image { dir })
    }

    pub fn lower(&self) -> PathBuf {
        self.dir.path().join("lower")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    pub fn spec(&self, argv: &[&str]) -> RunSpec {
        RunSpec {
            rootfs: RootfsSpec::Overlay {
                lowers: vec![self.lower()],
                upper: self.upper(),
                work: self.dir.path().join("work"),
            },
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            hostname: "sandbox-test".into(),
            extra_hosts: vec![],
            network: Network::Host,
            mounts: vec![],
            stdin: None,
            limits: Default::default(),
            privileged: false,
            stdio: Default::default(),
            publish: Vec::new(),
        }
    }

    pub fn sh(&self, script: &str) -> RunSpec {
        self.spec(&["sh", "-c", script])
    }
}

pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub outcome: Result<RunOutcome, SandboxError>,
}

impl Ran {
    pub fn ok(&self) -> &RunOutcome {
        match &self.outcome {
            Ok(outcome) => outcome,
            Err(e) => panic!("run failed: {e}\nstderr: {}", self.stderr),
        }
    }

    /// The stdout of a command that must succeed.
    pub fn out(&self) -> &str {
        let status = self.ok().status;
        assert!(status.success(), "{status:?}, stderr: {}", self.stderr);
        &self.stdout
    }
}

pub fn run(spec: &RunSpec) -> Ran {
    run_with(spec, &AtomicBool::new(false))
}

pub fn run_with(spec: &RunSpec, cancel: &AtomicBool) -> Ran {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let outcome = sandbox::run_cancellable(
        spec,
        &mut |stream, bytes| match stream {
            Stream::Stdout => stdout.extend_from_slice(bytes),
            Stream::Stderr => stderr.extend_from_slice(bytes),
        },
        cancel,
    );
    Ran {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        outcome,
    }
}

/// Pids whose parent is this test process.
pub fn children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        if after.split_whitespace().nth(1) == Some(me.as_str()) {
            found.push(stat);
        }
    }
    found
}

pub fn assert_nothing_left(image: &Image) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = image.dir.path().to_string_lossy().into_owned();
    assert!(!mountinfo.contains(&dir), "mount left: {mountinfo}");
    assert!(
        !mountinfo.contains("rbuild-sandbox-"),
        "mount left: {mountinfo}"
    );
    assert_eq!(children(), Vec::<String>::new(), "processes left");
}

/// A one-connection TCP server on 127.0.0.1: returns its port and a handle
/// yielding the first line received (`None` if nobody connected in time).
pub fn line_server() -> (u16, std::thread::JoinHandle<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok((conn, _)) = listener.accept() {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut line = String::new();
                let mut reader = std::io::BufReader::new(conn);
                std::io::BufRead::read_line(&mut reader, &mut line).ok();
                return Some(line); // dropping the connection ends nc
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    });
    (port, handle)
}

/// Adds `count` lower dirs under the image's lower (top first), each with one
/// file in /layers; `name` makes each directory's name.
pub fn add_lowers(image: &Image, count: usize, name: impl Fn(usize) -> String) -> Vec<PathBuf> {
    let mut lowers = vec![image.lower()];
    for i in 0..count {
        let dir = image.dir.path().join(name(i));
        std::fs::create_dir_all(dir.join("layers")).unwrap();
        std::fs::write(dir.join("layers").join(i.to_string()), "").unwrap();
        lowers.push(dir);
    }
    lowers
}

pub fn with_lowers(image: &Image, lowers: Vec<PathBuf>, script: &str) -> RunSpec {
    let mut spec = image.sh(script);
    spec.rootfs = RootfsSpec::Overlay {
        lowers,
        upper: image.upper(),
        work: image.dir.path().join("work"),
    };
    spec
}

/// A sleep length unique to this test process, so that concurrent runs of
/// this suite never count each other's processes.
pub fn sleep_secs(test: u32) -> u64 {
    u64::from(test) * 100_000_000 + u64::from(std::process::id())
}

/// Processes (anywhere on the machine) whose command line is `cmd`.
pub fn processes_running(cmd: &str) -> usize {
    let want: Vec<u8> = cmd.split(' ').flat_map(|w| w.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| *c == want)
        .count()
}

pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `helper_long_step` in a child process, its temp files in `tmp`.
pub fn helper(mode: &str, tmp: &Path, sleep: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_long_step",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RBUILD_SANDBOX_HELPER", mode)
        .env("RBUILD_SANDBOX_SLEEP", sleep)
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
