//! ADD's other sources, built with the rbuild binary: URLs served by a tiny
//! HTTP server on 127.0.0.1 inside the test (base names, modes, mtimes,
//! `--checksum`, `--unpack`, rebuilds after a remote change), and local
//! bzip2 and xz archives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Path → (body, `Last-Modified` value).
type Files = HashMap<String, (Vec<u8>, Option<String>)>;

/// A one-connection-at-a-time HTTP/1.1 server on loopback that serves fixed
/// files (GET and HEAD, 404 otherwise), records request lines and
/// User-Agents, and stops when dropped.
struct Server {
    addr: SocketAddr,
    files: Arc<Mutex<Files>>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let files = Arc::new(Mutex::new(Files::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, requests, stop) = (files.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve(stream, &files, &requests);
                    }
                }
            })
        };
        Server {
            addr,
            files,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn put(&self, path: &str, body: &[u8], last_modified: Option<&str>) {
        self.files.lock().expect("files").insert(
            path.to_string(),
            (body.to_vec(), last_modified.map(str::to_string)),
        );
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    files: &Mutex<Files>,
    requests: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut agent = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("user-agent") {
                agent = value.trim().to_string();
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    requests
        .lock()
        .expect("requests")
        .push((format!("{method} {path}"), agent));
    let found = files.lock().expect("files").get(path).cloned();
    let mut out = stream;
    match found {
        Some((body, last_modified)) => {
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(lm) = last_modified {
                head.push_str(&format!("Last-Modified: {lm}\r\n"));
            }
            head.push_str("\r\n");
            out.write_all(head.as_bytes())?;
            if method != "HEAD" {
                out.write_all(&body)?;
            }
        }
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
    }
    out.flush()
}

/// A temp dir holding the context, the store and the output.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ctx")).expect("ctx");
        Work { dir }
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.ctx().join(name), bytes).expect("write context file");
    }

    /// Builds the context with `dockerfile` into a fresh local output.
    fn build(&self, dockerfile: &str) -> Output {
        self.write("Dockerfile", dockerfile.as_bytes());
        let _ = std::fs::remove_dir_all(self.out());
        let root = self.dir.path().join("store");
        Command::new(env!("CARGO_BIN_EXE_rbuild"))
            .args(["build", "--root", path_str(&root), "--progress", "plain"])
            .args([
                "--output",
                &format!("type=local,dest={}", self.out().display()),
            ])
            .arg(path_str(&self.ctx()))
            .output()
            .expect("rbuild runs")
    }

    /// Builds and expects success; returns what rbuild printed.
    fn build_ok(&self, dockerfile: &str) -> String {
        let out = self.build(dockerfile);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "build failed:\n{dockerfile}\n{text}");
        text
    }

    /// Builds and expects failure; returns the error output.
    fn build_err(&self, dockerfile: &str) -> String {
        let out = self.build(dockerfile);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "build succeeded but should fail:\n{dockerfile}\n{stderr}"
        );
        stderr
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.out().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn mode(&self, path: &str) -> u32 {
        let md = std::fs::symlink_metadata(self.out().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        md.permissions().mode() & 0o7777
    }

    fn mtime(&self, path: &str) -> i64 {
        std::fs::symlink_metadata(self.out().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .mtime()
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A tar with `inner/file.txt` and `top.txt`.
fn tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text) in [("inner/file.txt", "inner\n"), ("top.txt", "top\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        builder
            .append_data(&mut header, path, text.as_bytes())
            .expect("append");
    }
    builder.into_inner().expect("tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(bytes).expect("bzip2");
    enc.finish().expect("bzip2")
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut enc =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).expect("xz");
    enc.write_all(bytes).expect("xz");
    enc.finish().expect("xz")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const LAST_MODIFIED_SECS: i64 = 1_445_412_480;

#[test]
fn url_downloads_get_base_name_mode_0600_and_last_modified() {
    let server = Server::start();
    server.put("/files/hello.txt", b"hello\n", Some(LAST_MODIFIED));
    server.put("/files/plain.txt", b"plain\n", None);
    server.put("/", b"index\n", None);
    let work = Work::new();
    let dockerfile = format!(
        "FROM scratch\n\
         ARG mode=0640\n\
         ADD {hello} /d/\n\
         ADD {root} /u/\n\
         ADD {hello} /named.txt\n\
         ADD --chmod=0413 {plain} /c/\n\
         ADD --chmod=${{mode}} {plain} /m/\n",
        hello = server.url("/files/hello.txt"),
        root = server.url("/"),
        plain = server.url("/files/plain.txt"),
    );
    work.build_ok(&dockerfile);
    assert_eq!(work.read("d/hello.txt"), "hello\n");
    assert_eq!(work.mode("d/hello.txt"), 0o600, "URL downloads are 0600");
    assert_eq!(work.mtime("d/hello.txt"), LAST_MODIFIED_SECS);
    assert_eq!(work.read("u/__unnamed__"), "index\n");
    assert_eq!(work.read("named.txt"), "hello\n");
    assert_eq!(work.mode("named.txt"), 0o600);
    assert_eq!(work.read("c/plain.txt"), "plain\n");
    assert_eq!(work.mode("c/plain.txt"), 0o413, "--chmod applies to URLs");
    assert_eq!(work.mtime("c/plain.txt"), 0, "no Last-Modified: the epoch");
    assert_eq!(
        work.mode("m/plain.txt"),
        0o640,
        "--chmod=${{mode}} from an ARG"
    );
    let requests = server.requests();
    assert!(!requests.is_empty());
    for (line, agent) in &requests {
        assert!(
            agent.starts_with("rbuild/"),
            "{line} sent User-Agent {agent:?}"
        );
    }
}

#[test]
fn url_checksums_are_verified() {
    let server = Server::start();
    let body = b"checked content\n";
    server.put("/c.txt", body, None);
    let url = server.url("/c.txt");
    let good = sha256(body);
    let work = Work::new();
    work.write("local.txt", b"local\n");

    work.build_ok(&format!(
        "FROM scratch\nARG sum={good}\nADD --checksum=sha256:${{sum}} {url} /c.txt\n"
    ));
    assert_eq!(work.read("c.txt"), "checked content\n");

    let wrong = sha256(b"something else");
    let err = work.build_err(&format!(
        "FROM scratch\nADD --checksum=sha256:{wrong} {url} /c.txt\n"
    ));
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains(&url), "the error names the URL: {err}");
    assert!(
        err.contains(&good),
        "the error gives the actual digest: {err}"
    );

    for (checksum, expect) in [
        ("sha256:abc123".to_string(), "64 lowercase hexadecimal"),
        (good.clone(), "expected <algorithm>:<hex digest>"),
        (
            format!("md5:{}", &good[..32]),
            "unsupported digest algorithm",
        ),
        (format!("unknown:{good}"), "unsupported digest algorithm"),
    ] {
        let err = work.build_err(&format!(
            "FROM scratch\nADD --checksum={checksum} {url} /c.txt\n"
        ));
        assert!(err.contains("--checksum"), "{checksum}: {err}");
        assert!(err.contains(expect), "{checksum}: {err}");
    }

    let err = work.build_err(&format!(
        "FROM scratch\nADD --checksum=sha256:{good} local.txt /l.txt\n"
    ));
    assert!(err.contains("is not a URL"), "{err}");
    assert!(err.contains("local.txt"), "{err}");

    let missing = server.url("/missing.txt");
    let err = work.build_err(&format!("FROM scratch\nADD {missing} /m.txt\n"));
    assert!(err.contains(&missing) && err.contains("404"), "{err}");
}

#[test]
fn url_tarballs_unpack_only_with_unpack_true() {
    let server = Server::start();
    let tgz = gzip(&tarball());
    server.put("/dl/bundle.tar.gz", &tgz, None);
    let url = server.url("/dl/bundle.tar.gz");
    let work = Work::new();
    work.build_ok(&format!(
        "FROM scratch\nADD {url} /kept/\nADD --unpack=true {url} /unpacked/\n"
    ));
    let kept = std::fs::read(work.out().join("kept/bundle.tar.gz")).expect("kept");
    assert_eq!(kept, tgz, "a URL tarball stays a file by default");
    assert_eq!(work.read("unpacked/inner/file.txt"), "inner\n");
    assert_eq!(work.read("unpacked/top.txt"), "top\n");
    assert!(!work.out().join("unpacked/bundle.tar.gz").exists());
}

#[test]
fn local_bzip2_and_xz_archives_unpack() {
    let work = Work::new();
    let tar = tarball();
    work.write("b.tar.bz2", &bzip2(&tar));
    work.write("x.tar.xz", &xz(&tar));
    // Detected by content, not by name.
    work.write("x.bin", &xz(&tar));
    work.build_ok(
        "FROM scratch\n\
         ADD b.tar.bz2 /bz/\n\
         ADD x.tar.xz /xz/\n\
         ADD x.bin /xzbin/\n\
         COPY x.tar.xz /copied/\n\
         ADD --unpack=false b.tar.bz2 /kept/\n",
    );
    for dir in ["bz", "xz", "xzbin"] {
        assert_eq!(work.read(&format!("{dir}/inner/file.txt")), "inner\n");
        assert_eq!(work.read(&format!("{dir}/top.txt")), "top\n");
    }
    assert!(
        work.out().join("copied/x.tar.xz").is_file(),
        "COPY never unpacks"
    );
    assert!(
        work.out().join("kept/b.tar.bz2").is_file(),
        "--unpack=false keeps the archive"
    );
    assert!(!work.out().join("kept/top.txt").exists());
}

#[test]
fn changed_remote_file_is_not_served_from_cache() {
    let server = Server::start();
    server.put("/v.txt", b"one\n", Some(LAST_MODIFIED));
    let work = Work::new();
    let dockerfile = format!("FROM scratch\nADD {} /v.txt\n", server.url("/v.txt"));
    let first = work.build_ok(&dockerfile);
    assert_eq!(work.read("v.txt"), "one\n");

    let again = work.build_ok(&dockerfile);
    assert_eq!(
        again.matches("CACHED").count(),
        first.matches("CACHED").count() + 1,
        "an unchanged remote file is served from cache:\n{first}\n{again}"
    );

    server.put("/v.txt", b"two\n", Some(LAST_MODIFIED));
    let changed = work.build_ok(&dockerfile);
    assert_eq!(
        work.read("v.txt"),
        "two\n",
        "a changed remote file rebuilds"
    );
    assert_eq!(
        changed.matches("CACHED").count(),
        first.matches("CACHED").count(),
        "{changed}"
    );
}
