//! Stages run concurrently (issue 9): three independent stages meet in one
//! shared cache mount, each waiting for the other two's files, so the build
//! succeeds only if they run at the same time; `--jobs 1` runs one at a
//! time, and then the meeting fails.

use std::process::Command;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

fn rendezvous_dockerfile() -> String {
    let mut text = String::new();
    for (me, others) in [("a", ["b", "c"]), ("b", ["a", "c"]), ("c", ["a", "b"])] {
        text.push_str(&format!(
            "FROM localhost/busybox:latest AS {me}\nARG NONCE\n\
             RUN --mount=type=cache,id=rendezvous,target=/r touch /r/{me}-$NONCE && \
             for i in $(seq 1 60); do [ -e /r/{}-$NONCE ] && [ -e /r/{}-$NONCE ] && exit 0; sleep 0.1; done; \
             echo {me} waited alone; exit 1\n",
            others[0], others[1]
        ));
    }
    text.push_str(
        "FROM localhost/busybox:latest\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\nCOPY --from=c /etc/passwd /c\n",
    );
    text
}

fn build(s: &Setup, name: &str, extra: &[&str]) -> std::process::Output {
    let ctx = s.dir.path().join(name);
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("Dockerfile"), rendezvous_dockerfile()).expect("Dockerfile");
    let nonce = format!("NONCE={name}-{}", std::process::id());
    let store = s.store();
    let ctx = ctx.to_string_lossy().into_owned();
    let mut args = vec![
        "build",
        "--root",
        &store,
        "--progress",
        "plain",
        "--no-cache",
        "--build-arg",
        &nonce,
    ];
    args.extend_from_slice(extra);
    args.push(&ctx);
    Command::new(RBUILD).args(&args).output().expect("rbuild")
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let Some(s) = Setup::new() else { return };
    let out = build(&s, "parallel", &[]);
    assert!(
        out.status.success(),
        "the three stages met only if they ran together:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn jobs_1_runs_one_stage_at_a_time_and_a_failure_stops_the_build() {
    let Some(s) = Setup::new() else { return };
    let out = build(&s, "serial", &["--jobs", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("waited alone"), "{err}");
    assert!(err.contains("exit code: 1"), "{err}");
}

/// Two concurrent stages using one cache id with `sharing`: what each saw.
fn cache_sharing(s: &Setup, sharing: &str) -> (String, String) {
    let mut text = String::new();
    for me in ["a", "b"] {
        text.push_str(&format!(
            "FROM localhost/busybox:latest AS {me}\nARG NONCE\n\
             RUN --mount=type=cache,id=share-{sharing},target=/c,sharing={sharing} \
             touch /c/{me}-$NONCE && sleep 1.5 && ls /c > /seen\n"
        ));
    }
    text.push_str(
        "FROM localhost/busybox:latest\nCOPY --from=a /seen /a\nCOPY --from=b /seen /b\n",
    );
    let name = format!("sharing-{sharing}");
    let nonce = format!("NONCE={}", std::process::id());
    let (_, root) = s.build_context(&name, &text, &[], &["--build-arg", &nonce], true);
    let read = |f: &str| std::fs::read_to_string(root.join(f)).expect("seen");
    (read("a"), read("b"))
}

#[test]
fn private_cache_mounts_give_a_concurrent_user_its_own_directory() {
    let Some(s) = Setup::new() else { return };
    let nonce = std::process::id().to_string();
    let (a, b) = cache_sharing(&s, "shared");
    assert!(
        a.contains(&format!("b-{nonce}")) && b.contains(&format!("a-{nonce}")),
        "shared: both stages see each other's files\n{a}\n{b}"
    );
    let (a, b) = cache_sharing(&s, "private");
    assert!(
        !a.contains(&format!("b-{nonce}")) && !b.contains(&format!("a-{nonce}")),
        "private: neither sees the other's files\n{a}\n{b}"
    );
}
