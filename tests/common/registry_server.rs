//! A real registry for tests: Debian's `docker-registry` serving a temporary
//! directory on 127.0.0.1, open, behind htpasswd basic auth, or over TLS
//! with a CA made for the test. Stopped (killed) on drop.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub enum Mode {
    Open,
    /// htpasswd with this user and password.
    Basic(&'static str, &'static str),
    Tls,
    /// Bearer tokens from `realm`, signed by the key of `cert`.
    Token {
        realm: String,
        cert: PathBuf,
    },
}

pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// The CA certificate clients must trust (TLS mode).
    pub ca: Option<PathBuf>,
}

/// Whether the machine can run these tests; prints why not.
pub fn available() -> bool {
    let missing: Vec<&str> = ["docker-registry", "htpasswd", "openssl", "skopeo"]
        .into_iter()
        .filter(|tool| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "needs {} (apt-get install docker-registry apache2-utils openssl skopeo)",
        missing.join(", ")
    );
    // In CI every prerequisite is installed: a skip there is a failure.
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) -> PathBuf {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.pem");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca)
        .args(["-subj", "/CN=rbuild test CA"]));
    let ext = dir.join("ext.cnf");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("ext");
    let csr = dir.join("server.csr");
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(&csr)
        .args(["-subj", "/CN=127.0.0.1"]));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(dir.join("server.pem")));
    ca
}

impl Registry {
    pub fn start(mode: Mode) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let mut ca = None;
        match mode {
            Mode::Open => {}
            Mode::Basic(user, password) => {
                let file = dir.path().join("htpasswd");
                run(Command::new("htpasswd")
                    .args(["-Bbc"])
                    .arg(&file)
                    .args([user, password]));
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: rbuild-test\n    path: {}\n",
                    file.display()
                ));
            }
            Mode::Token { realm, cert } => {
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: rbuild-test-registry\n    issuer: rbuild-test-issuer\n    rootcertbundle: {}\n",
                    cert.display()
                ));
            }
            Mode::Tls => {
                ca = Some(make_certs(dir.path()));
                config.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    dir.path().join("server.pem").display(),
                    dir.path().join("server.key").display()
                ));
            }
        }
        std::fs::write(dir.path().join("config.yml"), config).expect("config");
        let mut registry = Registry {
            dir,
            port,
            child: None,
            ca,
        };
        registry.restart();
        registry
    }

    /// Starts the server (again), on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::File::create(self.dir.path().join("log")).expect("log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}
