//! `rbuild run` (issue 11): the command's exit status, bind mounts read-write
//! and read-only, -e/-w/-u, standard input with -i, and `--commit` making a
//! layer of exactly what the command changed.

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

fn run(s: &Setup, args: &[&str]) -> Output {
    let store = s.store();
    let mut all = vec!["run", "--root", &store];
    all.extend_from_slice(args);
    Command::new(RBUILD)
        .args(&all)
        .output()
        .expect("rbuild runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_returns_the_commands_exit_status_and_output() {
    let Some(s) = Setup::new() else { return };
    let out = run(
        &s,
        &[
            "localhost/busybox:latest",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err"), "{}", text(&out.stderr));
    let out = run(&s, &["localhost/busybox:latest", "true"]);
    assert_eq!(out.status.code(), Some(0));
    // Killed by a signal: 128 + its number, as docker run reports.
    let out = run(&s, &["localhost/busybox:latest", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    let out = run(&s, &["localhost/busybox:latest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no command"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bind_mounts_are_read_write_or_read_only() {
    let Some(s) = Setup::new() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.txt"), "version 1\n").unwrap();
    let rw = format!("{}:/data", dir.path().display());
    let out = run(
        &s,
        &[
            "-v",
            &rw,
            "localhost/busybox:latest",
            "sh",
            "-c",
            "cat /data/site.txt; echo made > /data/new",
        ],
    );
    assert_eq!(text(&out.stdout), "version 1\n", "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new")).unwrap(),
        "made\n"
    );
    // Edited on the host, seen by the next run without any rebuild.
    std::fs::write(dir.path().join("site.txt"), "version 2\n").unwrap();
    let out = run(
        &s,
        &[
            "-v",
            &rw,
            "localhost/busybox:latest",
            "cat",
            "/data/site.txt",
        ],
    );
    assert_eq!(text(&out.stdout), "version 2\n");
    let ro = format!("{}:/data:ro", dir.path().display());
    let out = run(
        &s,
        &[
            "-v",
            &ro,
            "localhost/busybox:latest",
            "sh",
            "-c",
            "echo x > /data/refused",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("refused").exists());
}

#[test]
fn env_workdir_user_and_stdin_are_honoured() {
    let Some(s) = Setup::new() else { return };
    let out = run(
        &s,
        &[
            "-e",
            "GREETING=hi",
            "-w",
            "/tmp",
            "-u",
            "65534:65534",
            "localhost/busybox:latest",
            "sh",
            "-c",
            "echo $GREETING; pwd; id -u; id -g",
        ],
    );
    assert_eq!(
        text(&out.stdout),
        "hi\n/tmp\n65534\n65534\n",
        "{}",
        text(&out.stderr)
    );
    let store = s.store();
    let mut child = Command::new(RBUILD)
        .args([
            "run",
            "--root",
            &store,
            "-i",
            "localhost/busybox:latest",
            "tr",
            "a-z",
            "A-Z",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(output, "PIPED IN\n");
    // Without -i the command reads nothing.
    let out = run(&s, &["localhost/busybox:latest", "cat"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "");
}

/// The entries of the top layer of `reference`, from an OCI archive.
fn top_layer_entries(s: &Setup, reference: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("image.tar");
    let archive_str = archive.to_string_lossy().into_owned();
    s.rbuild(
        &[
            "save",
            "--root",
            &s.store(),
            "--format",
            "oci",
            "-o",
            &archive_str,
            reference,
        ],
        true,
    );
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(name, bytes);
    }
    let blob =
        |d: &str| files[&format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))].clone();
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let top = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let gz = flate2::read::GzDecoder::new(std::io::Cursor::new(blob(&top)));
    let mut layer = tar::Archive::new(gz);
    layer
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let kind = if e.header().entry_type().is_dir() {
                "dir"
            } else {
                "file"
            };
            format!("{kind} {}", e.path().unwrap().display())
        })
        .collect()
}

#[test]
fn commit_makes_a_layer_of_exactly_the_commands_changes() {
    let Some(s) = Setup::new() else { return };
    let out = run(
        &s,
        &[
            "--commit",
            "localhost/committed:1",
            "localhost/busybox:latest",
            "sh",
            "-c",
            "echo x > /new && mkdir -p /d/e && echo y > /d/e/f && rm /bin/wget",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries = top_layer_entries(&s, "localhost/committed:1");
    let files: Vec<&String> = entries.iter().filter(|e| e.starts_with("file ")).collect();
    assert_eq!(
        files,
        ["file bin/.wh.wget", "file d/e/f", "file new"],
        "{entries:?}"
    );
    // The mount points the sandbox made (/etc/hosts, /proc, ...) are not in it.
    assert!(
        entries
            .iter()
            .all(|e| !e.contains("hosts") && !e.contains("proc")),
        "{entries:?}"
    );
    let out = run(
        &s,
        &[
            "localhost/committed:1",
            "sh",
            "-c",
            "cat /new /d/e/f; test -e /bin/wget || echo gone",
        ],
    );
    assert_eq!(text(&out.stdout), "x\ny\ngone\n", "{}", text(&out.stderr));
    let inspect = s.rbuild(
        &["inspect", "--root", &s.store(), "localhost/committed:1"],
        true,
    );
    assert!(
        text(&inspect.stdout).contains("echo x > /new"),
        "history names the command"
    );
    // Without --commit nothing is kept: the base is unchanged.
    run(&s, &["localhost/busybox:latest", "touch", "/kept"]);
    let out = run(&s, &["localhost/busybox:latest", "ls", "/kept"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn publish_reaches_a_server_in_the_containers_own_network() {
    let Some(s) = Setup::new() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let store = s.store();
    let publish = format!("{port}:8000");
    let mut server = Command::new(RBUILD)
        .args([
            "run", "--root", &store, "-p", &publish, "localhost/busybox:latest", "sh", "-c",
            "mkdir /www && echo served > /www/index.html && ip -4 addr | grep -c 'inet ' > /www/inets \
             && exec httpd -f -p 127.0.0.1:8000 -h /www",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let get = |path: &str| -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    };
    let mut page = None;
    for _ in 0..50 {
        page = get("/index.html").filter(|r| r.contains("served"));
        if page.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Its own network: only loopback's address (the server listens there).
    let inets = get("/inets").unwrap_or_default();
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let status = server.wait().expect("wait");
    assert!(page.is_some(), "no page through -p {publish}");
    assert!(inets.trim_end().ends_with("\n1"), "{inets}");
    assert_eq!(status.code(), Some(130), "Ctrl-C/SIGTERM stop it with 130");
    let out = run(
        &s,
        &[
            "-p",
            "1:2",
            "--network",
            "host",
            "localhost/busybox:latest",
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `tmux -L SOCKET ARGS...`
fn tmux(socket: &str, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux runs")
}

#[test]
fn interactive_terminal_has_its_size_job_control_and_exit_status() {
    let Some(s) = Setup::new() else { return };
    if Command::new("tmux").arg("-V").output().is_err() {
        busybox_store::skip("tmux is not installed");
        return;
    }
    let socket = format!("rbuild-run-{}", std::process::id());
    let command = format!(
        "{RBUILD} run --root {} -it localhost/busybox:latest sh; echo EXIT=$?; sleep 60",
        s.store()
    );
    let started = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            &command,
        ],
    );
    assert!(started.status.success(), "{}", text(&started.stderr));
    let screen = || text(&tmux(&socket, &["capture-pane", "-p", "-t", "t"]).stdout);
    let wait_for = |needle: &str| {
        for _ in 0..100 {
            if screen().contains(needle) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    assert!(wait_for("/ #"), "no prompt:\n{}", screen());
    tmux(
        &socket,
        &["send-keys", "-t", "t", "stty size; echo $((6*7))", "Enter"],
    );
    assert!(wait_for("42"), "{}", screen());
    tmux(&socket, &["send-keys", "-t", "t", "sleep 100", "Enter"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Ctrl-C reaches the foreground job, not rbuild: the shell survives.
    tmux(&socket, &["send-keys", "-t", "t", "C-c"]);
    tmux(
        &socket,
        &["send-keys", "-t", "t", "echo after-ctrl-c; exit 3", "Enter"],
    );
    let finished = wait_for("EXIT=3");
    let shown = screen();
    tmux(&socket, &["kill-server"]);
    assert!(finished, "{shown}");
    assert!(shown.contains("30 100"), "window size:\n{shown}");
    assert!(shown.contains("\nafter-ctrl-c"), "{shown}");
}
