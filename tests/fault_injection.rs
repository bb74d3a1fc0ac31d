//! Store integrity under faults (issue 10): rbuild is killed with SIGKILL at
//! moments spread over whole builds (COPY writing blobs, RUN, snapshot
//! commits, tagging, export); after each kill `rbuild check` finds the store
//! clean, and the next build, started at once, gives the right image.
//! 20 kills in the test command; `RBUILD_FAULT_ROUNDS=100` for the full run.

use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

/// A small deterministic generator for the kill delays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn sigkill_at_any_moment_leaves_a_clean_store_and_the_next_build_succeeds() {
    let Some(s) = Setup::new() else { return };
    let rounds: u64 = std::env::var("RBUILD_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let ctx = s.dir.path().join("ctx-faults");
    std::fs::create_dir_all(ctx.join("data")).expect("ctx");
    for i in 0..200 {
        std::fs::write(ctx.join(format!("data/f{i:03}")), vec![b'x'; 16 << 10]).expect("file");
    }
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/busybox:latest\n\
         COPY data /data\n\
         RUN mkdir /made && for i in $(seq 1 500); do echo $i > /made/$i; done\n\
         COPY data /again\n",
    )
    .expect("Dockerfile");
    let store = s.store();
    let out_dir = s.dir.path().join("fault-out");
    let output = format!("type=local,dest={}", out_dir.display());
    let ctx_text = ctx.to_string_lossy().into_owned();
    let build = |no_cache: bool| {
        let mut cmd = Command::new(RBUILD);
        cmd.args([
            "build",
            "--root",
            &store,
            "--progress",
            "quiet",
            "-t",
            "fault:1",
        ]);
        cmd.args(["--output", &output]);
        if no_cache {
            cmd.arg("--no-cache");
        }
        cmd.arg(&ctx_text);
        cmd
    };
    let mut random = Lcg(0x5eed);
    for round in 0..rounds {
        let mut child = build(true)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // A whole build takes a few hundred milliseconds here: kill anywhere
        // in it (or just after, which must be harmless too).
        std::thread::sleep(Duration::from_millis(random.next(900)));
        let _ = child.kill();
        child.wait().expect("wait");
        let check = Command::new(RBUILD)
            .args(["check", "--root", &store])
            .output()
            .expect("check");
        assert!(
            check.status.success(),
            "round {round}: store not clean:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let next = build(false).output().expect("build");
        assert!(
            next.status.success(),
            "round {round}: the next build failed:\n{}",
            String::from_utf8_lossy(&next.stderr)
        );
        let made = std::fs::read_to_string(out_dir.join("made/500")).expect("made/500");
        assert_eq!(made, "500\n", "round {round}");
        let again = std::fs::read(out_dir.join("again/f199")).expect("again/f199");
        assert_eq!(again.len(), 16 << 10, "round {round}");
    }
}
