//! ADD of a git repository (issue 10): a repository served over HTTP from
//! 127.0.0.1 (git's dumb protocol, a plain file server) is checked out at a
//! tag, a branch and a subdirectory, with `--keep-git-dir`, and the commit
//! is in the cache key (a new commit on the branch rebuilds the step).

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::Setup;
use std::path::Path;
use std::process::{Child, Command};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file server for `dir` on a free loopback port; killed on drop.
struct Server(Child, u16);

impl Server {
    fn start(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 http.server");
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Server(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Publishes `work` as the bare repository `served/repo.git` (dumb HTTP).
fn publish(work: &Path, served: &Path) {
    let bare = served.join("repo.git");
    let _ = std::fs::remove_dir_all(&bare);
    let out = Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(work)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(out.status.success());
    git(&bare, &["update-server-info"]);
}

#[test]
fn add_checks_out_a_repository_at_a_ref_with_the_commit_in_the_key() {
    let Some(s) = Setup::new() else { return };
    if Command::new("git").arg("--version").output().is_err() {
        busybox_store::skip("git is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let served = dir.path().join("served");
    std::fs::create_dir_all(work.join("docs")).unwrap();
    std::fs::create_dir_all(&served).unwrap();
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    git(&work, &["config", "user.email", "t@example.com"]);
    git(&work, &["config", "user.name", "t"]);
    std::fs::write(work.join("README"), "version 1\n").unwrap();
    std::fs::write(work.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::write(work.join("docs/guide.txt"), "guide\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(work.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "one"]);
    git(&work, &["tag", "v1"]);
    publish(&work, &served);
    let server = Server::start(&served);
    let url = format!("http://127.0.0.1:{}/repo.git", server.1);

    let dockerfile = format!(
        "ADD {url}#v1 /tag/\nADD {url}#main:docs /docs/\nADD --keep-git-dir {url} /full/\n"
    );
    let (out, root) = s.build("git", &dockerfile, &[], true);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("tag/README")).unwrap(),
        "version 1\n",
        "{log}"
    );
    let mode = std::fs::metadata(root.join("tag/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(
        !root.join("tag/.git").exists(),
        ".git dropped without --keep-git-dir"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("docs/guide.txt")).unwrap(),
        "guide\n"
    );
    assert!(!root.join("docs/README").exists(), "only the subdir");
    assert!(root.join("full/.git").is_dir(), "--keep-git-dir keeps it");
    // Files carry the commit's time, so the same commit gives the same layer.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(root.join("tag/README")).unwrap().mtime(),
        1_577_836_800
    );

    // Unchanged: cached. A new commit on main: the branch steps rebuild,
    // the tag step stays cached.
    let (out, _) = s.build("git", &dockerfile, &[], true);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("CACHED").count(), 4, "{log}");
    std::fs::write(work.join("docs/guide.txt"), "guide 2\n").unwrap();
    git(&work, &["commit", "--quiet", "-am", "two"]);
    publish(&work, &served);
    let (out, root) = s.build("git", &dockerfile, &[], true);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("docs/guide.txt")).unwrap(),
        "guide 2\n"
    );
    assert_eq!(
        log.matches("CACHED").count(),
        2,
        "FROM and the tag step:\n{log}"
    );

    // Errors name the ref and the repository.
    let (out, _) = s.build("git-bad", &format!("ADD {url}#nope /x/\n"), &[], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no branch, tag or commit \"nope\""), "{err}");
    let (out, _) = s.build("git-flag", "ADD --keep-git-dir f /x\n", &[], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-git-dir applies"));
    drop(server);
}
