//! Concurrency (issue 10): four rbuild processes build different and
//! identical Dockerfiles against one store at once while `rbuild prune` runs
//! beside them; every image comes out right, no lock error reaches a user,
//! and nothing deadlocks (each round is bounded in time). 5 rounds in the
//! test command; `RBUILD_CONCURRENCY_ROUNDS=25` for the full run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

const ROUND_LIMIT: Duration = Duration::from_secs(120);

fn context(s: &Setup, name: &str, word: &str) -> String {
    let ctx = s.dir.path().join(format!("ctx-{name}"));
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("word"), format!("{word}\n")).expect("word");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/busybox:latest\nCOPY word /word\nRUN cat /word /word > /twice && mkdir /many && for i in $(seq 1 200); do echo $i > /many/$i; done\n",
    )
    .expect("Dockerfile");
    ctx.to_string_lossy().into_owned()
}

/// Waits for `child`, killing it when the round's time is up.
fn finish(mut child: Child, deadline: Instant, what: &str) -> std::process::Output {
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still running after {ROUND_LIMIT:?}: a deadlock?");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn four_builds_and_a_prune_share_one_store() {
    let Some(s) = Setup::new() else { return };
    let rounds: usize = std::env::var("RBUILD_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let store = s.store();
    // Two builds of one Dockerfile and context, two of others.
    let jobs = [
        ("alpha", context(&s, "alpha", "alpha")),
        ("alpha-again", context(&s, "alpha", "alpha")),
        ("beta", context(&s, "beta", "beta")),
        ("gamma", context(&s, "gamma", "gamma")),
    ];
    for round in 0..rounds {
        let deadline = Instant::now() + ROUND_LIMIT;
        let builds: Vec<(String, std::path::PathBuf, Child)> = jobs
            .iter()
            .map(|(name, ctx)| {
                let out = s.dir.path().join(format!("out-{name}-{round}"));
                let child = Command::new(RBUILD)
                    .args(["build", "--root", &store, "--progress", "quiet"])
                    .args(["-t", &format!("localhost/conc/{name}:{round}")])
                    .arg("--output")
                    .arg(format!("type=local,dest={}", out.display()))
                    .args(if round % 2 == 0 {
                        &["--no-cache"][..]
                    } else {
                        &[][..]
                    })
                    .arg(ctx)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn");
                (name.to_string(), out, child)
            })
            .collect();
        let prune = Command::new(RBUILD)
            .args(["prune", "--root", &store])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prune");
        for (name, out, child) in builds {
            let result = finish(child, deadline, &name);
            let err = String::from_utf8_lossy(&result.stderr);
            assert!(result.status.success(), "round {round} {name}: {err}");
            assert!(
                !err.to_lowercase().contains("lock"),
                "round {round} {name}: {err}"
            );
            let word = name.trim_end_matches("-again");
            let twice = std::fs::read_to_string(out.join("twice")).expect("twice");
            assert_eq!(twice, format!("{word}\n{word}\n"), "round {round} {name}");
            assert!(out.join("many/200").is_file(), "round {round} {name}");
        }
        let pruned = finish(prune, deadline, "prune");
        assert!(
            pruned.status.success(),
            "round {round} prune: {}",
            String::from_utf8_lossy(&pruned.stderr)
        );
    }
    let check = Command::new(RBUILD)
        .args(["check", "--root", &store])
        .output()
        .expect("check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
