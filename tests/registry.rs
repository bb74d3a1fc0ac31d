//! Registries for real (issue 8): Debian's `docker-registry` on 127.0.0.1,
//! open, with htpasswd basic auth, and over TLS with a CA made here; skopeo
//! on the other side of every exchange.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[path = "common/busybox_store.rs"]
mod busybox_store;
#[path = "common/registry_server.rs"]
mod registry_server;
#[path = "common/token_server.rs"]
mod token_server;
use busybox_store::{Setup, RBUILD};
use registry_server::{Mode, Registry};

fn ready() -> Option<Setup> {
    if !registry_server::available() {
        return None;
    }
    Setup::new()
}

fn rbuild(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(RBUILD);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("rbuild runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `sha256:...` at the end of a line `push`/`pull` print.
fn digest_in(stdout: &str) -> String {
    let line = stdout.lines().last().expect("a line");
    line[line.rfind("sha256:").expect("digest")..].to_string()
}

fn new_store(s: &Setup, name: &str) -> String {
    s.dir.path().join(name).to_string_lossy().into_owned()
}

#[test]
fn push_then_pull_into_an_empty_store_gives_the_same_digest() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Open);
    let dest = format!("{}/test/busybox:1", reg.host());
    let pushed = digest_in(&ok(&rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &dest,
        ],
        &[],
    )));
    let again = rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &dest,
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .matches("already present")
            .count()
            >= 2,
        "a second push sends no blob"
    );
    let empty = new_store(&s, "store-b");
    let pulled = digest_in(&ok(&rbuild(&["pull", "--root", &empty, &dest], &[])));
    assert_eq!(pushed, pulled);
    let images = ok(&rbuild(&["images", "--root", &empty], &[]));
    assert!(
        images.contains(&format!("{}/test/busybox", reg.host())),
        "{images}"
    );
    // skopeo reads what rbuild pushed.
    let layout = s.dir.path().join("skopeo-layout");
    let status = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{dest}"))
        .arg(format!("oci:{}:x", layout.display()))
        .status()
        .expect("skopeo");
    assert!(status.success());
}

#[test]
fn builds_from_a_registry_image_with_an_empty_store_and_pushes_the_result() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Open);
    let base = format!("{}/base/busybox:1", reg.host());
    ok(&rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &base,
        ],
        &[],
    ));
    let ctx = s.dir.path().join("ctx-from-registry");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nRUN echo built > /built\n"),
    )
    .expect("Dockerfile");
    let empty = new_store(&s, "store-build");
    let app = format!("{}/app/built:2", reg.host());
    let metadata = s.dir.path().join("metadata.json");
    let out = ok(&rbuild(
        &[
            "build",
            "--root",
            &empty,
            "-t",
            &app,
            "--push",
            "--metadata-file",
            metadata.to_str().expect("utf-8"),
            ctx.to_str().expect("utf-8"),
        ],
        &[],
    ));
    assert!(out.contains(&format!("{app}@sha256:")), "{out}");
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&metadata).expect("metadata")).expect("JSON");
    assert_eq!(
        metadata["containerimage.digest"],
        digest_in(&out),
        "{metadata}"
    );
    assert_eq!(metadata["image.name"], app);
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{app}"))
        .output()
        .expect("skopeo");
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    assert_eq!(json["Layers"].as_array().map(Vec::len), Some(2), "{json}");
}

/// A layout whose index has an amd64 and an arm64 image, each with one
/// layer holding `/platform`.
fn multi_platform_layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).expect("blob");
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(arch.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "platform", arch.as_bytes())
            .expect("tar");
        let layer = builder.into_inner().expect("tar");
        let (layer_digest, layer_size) = put(&layer);
        let config = serde_json::json!({
            "architecture": arch, "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let (config_digest, config_size) = put(config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
        });
        let (digest, size) = put(manifest.to_string().as_bytes());
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let (digest, size) = put(index.to_string().as_bytes());
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }],
    });
    std::fs::write(dir.join("index.json"), top.to_string()).expect("index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

#[test]
fn a_multi_platform_index_pushed_by_skopeo_pulls_the_platform_asked_for() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Open);
    let layout = s.dir.path().join("multi-layout");
    multi_platform_layout(&layout);
    let dest = format!("{}/multi/app:1", reg.host());
    let status = Command::new("skopeo")
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:multi", layout.display()))
        .arg(format!("docker://{dest}"))
        .status()
        .expect("skopeo");
    assert!(status.success());
    for arch in ["amd64", "arm64"] {
        let store = new_store(&s, &format!("store-{arch}"));
        let platform = format!("linux/{arch}");
        ok(&rbuild(
            &["pull", "--root", &store, "--platform", &platform, &dest],
            &[],
        ));
        let inspect = ok(&rbuild(&["inspect", "--root", &store, &dest], &[]));
        let json: serde_json::Value = serde_json::from_str(&inspect).expect("JSON");
        assert_eq!(json[0]["Architecture"], arch, "{json}");
    }
    let store = new_store(&s, "store-s390x");
    let out = rbuild(
        &["pull", "--root", &store, "--platform", "linux/s390x", &dest],
        &[],
    );
    let err = failed(&out);
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn an_unknown_tag_or_a_corrupted_blob_fails_clearly_and_leaves_the_store_as_it_was() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Open);
    let store = new_store(&s, "store-bad");
    let missing = format!("{}/test/busybox:nope", reg.host());
    let err = failed(&rbuild(&["pull", "--root", &store, &missing], &[]));
    assert!(
        err.contains("test/busybox") && err.contains("not found"),
        "{err}"
    );

    let dest = format!("{}/test/busybox:1", reg.host());
    ok(&rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &dest,
        ],
        &[],
    ));
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{dest}"))
        .output()
        .expect("skopeo");
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    let layer = json["Layers"][0].as_str().expect("layer").to_string();
    let data = reg.blob_data(&layer);
    let mut bytes = std::fs::read(&data).expect("blob data");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt");
    let err = failed(&rbuild(&["pull", "--root", &store, &dest], &[]));
    assert!(
        err.contains(&layer) && err.contains("does not match"),
        "{err}"
    );
    let hex = layer.trim_start_matches("sha256:");
    assert!(!Path::new(&store).join("blobs/sha256").join(hex).exists());
    let images = ok(&rbuild(&["images", "--root", &store], &[]));
    assert_eq!(images.lines().count(), 1, "no image tagged: {images}");
}

#[test]
fn basic_auth_needs_credentials_and_login_stores_them() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Basic("tester", "s3cret-pass"));
    let config_dir = s.dir.path().join("docker-config");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let env = [("DOCKER_CONFIG", config_dir.as_path())];
    let dest = format!("{}/private/busybox:1", reg.host());
    let push = [
        "push",
        "--root",
        &s.store(),
        "localhost/busybox:latest",
        &dest,
    ];
    let err = failed(&rbuild(&push, &env));
    assert!(err.contains("authentication required"), "{err}");

    let mut login = Command::new(RBUILD);
    login
        .args(["login", "-u", "tester", "--password-stdin", &reg.host()])
        .env("DOCKER_CONFIG", &config_dir)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let wrong = {
        let mut child = login.spawn().expect("login");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"wrong\n")
            .expect("write");
        child.wait_with_output().expect("login")
    };
    let err = failed(&wrong);
    assert!(err.contains("refused") && !err.contains("wrong"), "{err}");
    let right = {
        let mut child = login.spawn().expect("login");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"s3cret-pass\n")
            .expect("write");
        child.wait_with_output().expect("login")
    };
    ok(&right);
    let config = config_dir.join("config.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config)
        .expect("config.json")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pushed = rbuild(&push, &env);
    let log = String::from_utf8_lossy(&pushed.stderr).into_owned() + &ok(&pushed);
    assert!(!log.contains("s3cret-pass"), "no secret in the output");
    ok(&rbuild(&["logout", &reg.host()], &env));
    let text = std::fs::read_to_string(&config).expect("config.json");
    assert!(!text.contains(&reg.host()), "{text}");
}

#[test]
fn a_tls_registry_is_trusted_through_tls_ca_and_not_without() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Tls);
    let ca = reg.ca.clone().expect("CA");
    let dest = format!("{}/secure/busybox:1", reg.host());
    let push = [
        "push",
        "--root",
        &s.store(),
        "localhost/busybox:latest",
        &dest,
    ];
    let mut with_ca = push.to_vec();
    let ca_text = ca.to_string_lossy().into_owned();
    with_ca.extend(["--tls-ca", &ca_text]);
    let pushed = digest_in(&ok(&rbuild(&with_ca, &[])));
    let store = new_store(&s, "store-tls");
    let pulled = digest_in(&ok(&rbuild(
        &["pull", "--root", &store, "--tls-ca", &ca_text, &dest],
        &[],
    )));
    assert_eq!(pushed, pulled);
    // Without the CA the certificate is not trusted, and rbuild does not
    // fall back to plain HTTP on a host that speaks TLS.
    let err = failed(&rbuild(&["pull", "--root", &store, &dest], &[]));
    assert!(err.contains(&reg.host()), "{err}");
}

/// Forwards 127.0.0.1:PORT to the registry; once `cut_after` bytes went
/// towards it, kills the registry process (a push cut off half way).
fn cutting_proxy(
    target: u16,
    cut_after: u64,
    registry_pid: Arc<AtomicU64>,
) -> (u16, Arc<AtomicBool>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy");
    let port = listener.local_addr().expect("addr").port();
    let armed = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicU64::new(0));
    let armed_out = armed.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut c_read, mut s_write) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
            });
            let (armed, sent, pid) = (armed.clone(), sent.clone(), registry_pid.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                    if armed.load(Ordering::SeqCst) && total > cut_after {
                        armed.store(false, Ordering::SeqCst);
                        let pid = pid.load(Ordering::SeqCst) as i32;
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                        break;
                    }
                }
                let _ = s_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, armed_out)
}

#[test]
fn a_push_cut_off_half_way_fails_clearly_and_the_next_push_completes() {
    let Some(s) = ready() else { return };
    // An image with a 40 MB layer of random bytes: uploaded in two chunks.
    let rootfs = s.dir.path().join("big-rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    let mut random = vec![0u8; 40 << 20];
    std::fs::File::open("/dev/urandom")
        .expect("urandom")
        .read_exact(&mut random)
        .expect("random");
    std::fs::write(rootfs.join("noise"), &random).expect("noise");
    let tarball = s.dir.path().join("big.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    ok(&rbuild(
        &[
            "import",
            "--root",
            &s.store(),
            tarball.to_str().expect("utf-8"),
            "localhost/big:1",
        ],
        &[],
    ));
    let mut reg = Registry::start(Mode::Open);
    let pid = Arc::new(AtomicU64::new(reg.pid().expect("pid") as u64));
    let (proxy, _armed) = cutting_proxy(reg.port, 8 << 20, pid.clone());
    let dest = format!("127.0.0.1:{proxy}/big/image:1");
    // Uncompressed: the test binary is a debug build, slow at gzip.
    let push = [
        "push",
        "--root",
        &s.store(),
        "--compression",
        "uncompressed",
        "localhost/big:1",
        &dest,
    ];
    let err = failed(&rbuild(&push, &[]));
    assert!(err.contains(&format!("127.0.0.1:{proxy}")), "{err}");
    reg.restart();
    pid.store(reg.pid().expect("pid") as u64, Ordering::SeqCst);
    let pushed = digest_in(&ok(&rbuild(&push, &[])));
    let direct = format!("docker://{}/big/image:1", reg.host());
    let status = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &direct])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("skopeo");
    assert!(status.success());
    let store = new_store(&s, "store-big");
    let pulled = digest_in(&ok(&rbuild(&["pull", "--root", &store, &dest], &[])));
    assert_eq!(pushed, pulled);
}

#[test]
fn docker_hub_images_come_from_the_first_mirror_that_has_them() {
    let Some(s) = ready() else { return };
    let mirror = Registry::start(Mode::Open);
    let in_mirror = format!("{}/library/busybox:latest", mirror.host());
    let pushed = digest_in(&ok(&rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &in_mirror,
        ],
        &[],
    )));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let store = new_store(&s, "store-mirror");
    let good_url = format!("http://{}", mirror.host());
    let out = rbuild(
        &[
            "pull",
            "--root",
            &store,
            "--registry-mirror",
            &dead_url,
            "--registry-mirror",
            &good_url,
            "busybox",
        ],
        &[],
    );
    assert_eq!(digest_in(&ok(&out)), pushed);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trying the next source"), "{err}");
    let inspect = ok(&rbuild(&["inspect", "--root", &store, "busybox"], &[]));
    assert!(
        inspect.contains("docker.io/library/busybox:latest"),
        "{inspect}"
    );
}

#[test]
fn credentials_come_from_credential_helpers_and_podmans_auth_file() {
    let Some(s) = ready() else { return };
    let reg = Registry::start(Mode::Basic("tester", "helper-pass"));
    let dest = format!("{}/private/busybox:1", reg.host());
    let push = [
        "push",
        "--root",
        &s.store(),
        "localhost/busybox:latest",
        &dest,
    ];

    // credHelpers: docker-credential-rbuildtest on PATH answers `get`.
    let bin = s.dir.path().join("helper-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-rbuildtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"tester\",\"Secret\":\"helper-pass\"}'\n",
    )
    .expect("helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let docker_config = s.dir.path().join("helper-config");
    std::fs::create_dir_all(&docker_config).expect("config dir");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "rbuildtest"}}}}"#, reg.host()),
    )
    .expect("config.json");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(RBUILD)
        .args(push)
        .env("DOCKER_CONFIG", &docker_config)
        .env("PATH", path)
        .output()
        .expect("rbuild");
    ok(&out);

    // REGISTRY_AUTH_FILE (podman's auth.json), with no docker config.
    let auth_file = s.dir.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths": {{"{}": {{"auth": "dGVzdGVyOmhlbHBlci1wYXNz"}}}}}}"#,
            reg.host()
        ),
    )
    .expect("auth.json");
    let empty = s.dir.path().join("no-docker-config");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = rbuild(
        &["pull", "--root", &new_store(&s, "store-authfile"), &dest],
        &[
            ("DOCKER_CONFIG", empty.as_path()),
            ("REGISTRY_AUTH_FILE", auth_file.as_path()),
        ],
    );
    ok(&out);
}

#[test]
fn bearer_tokens_cover_the_scopes_a_push_and_a_mount_need() {
    let Some(s) = ready() else { return };
    let basic = "Basic dGVzdGVyOnRva2VuLXBhc3M="; // tester:token-pass
    let tokens = token_server::TokenServer::start(s.dir.path(), basic);
    let reg = Registry::start(Mode::Token {
        realm: format!("http://127.0.0.1:{}/token", tokens.port),
        cert: tokens.cert.clone(),
    });
    let first = format!("{}/team/first:1", reg.host());
    let push = [
        "push",
        "--root",
        &s.store(),
        "localhost/busybox:latest",
        &first,
    ];
    let no_config = s.dir.path().join("no-config");
    std::fs::create_dir_all(&no_config).expect("dir");
    let err = failed(&rbuild(&push, &[("DOCKER_CONFIG", no_config.as_path())]));
    assert!(err.contains("authentication required"), "{err}");

    let config = s.dir.path().join("token-config");
    std::fs::create_dir_all(&config).expect("dir");
    std::fs::write(
        config.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "dGVzdGVyOnRva2VuLXBhc3M="}}}}}}"#,
            reg.host()
        ),
    )
    .expect("config.json");
    let env = [("DOCKER_CONFIG", config.as_path())];
    let pushed = digest_in(&ok(&rbuild(&push, &env)));
    let second = format!("{}/team/second:1", reg.host());
    let out = rbuild(
        &[
            "push",
            "--root",
            &s.store(),
            "localhost/busybox:latest",
            &second,
        ],
        &env,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("mounted"));
    ok(&out);
    let requests = tokens.requests.lock().expect("requests").clone();
    assert!(
        requests.iter().any(|scopes| {
            scopes.contains(&"repository:team/second:pull,push".to_string())
                && scopes.contains(&"repository:team/first:pull".to_string())
        }),
        "a mount asks for both repositories: {requests:?}"
    );
    let store = new_store(&s, "store-token");
    let pulled = digest_in(&ok(&rbuild(&["pull", "--root", &store, &first], &env)));
    assert_eq!(pushed, pulled);
}
