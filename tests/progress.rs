//! `--progress plain|rawjson|tty|quiet` (issue 9): golden event sequences
//! (times filtered out) for an uncached build, a cached one and a failure,
//! and the live tty display read from a real terminal (tmux).

use std::process::Command;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

const DOCKERFILE: &str = "FROM localhost/busybox:latest\n\
                          RUN echo hello\n\
                          COPY f /f\n";

fn context(s: &Setup, name: &str, dockerfile: &str) -> String {
    let ctx = s.dir.path().join(name);
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
    std::fs::write(ctx.join("f"), "f\n").expect("f");
    ctx.to_string_lossy().into_owned()
}

fn build(s: &Setup, ctx: &str, mode: &str) -> (Option<i32>, String, String) {
    let out = Command::new(RBUILD)
        .args(["build", "--root", &s.store(), "--progress", mode, ctx])
        .output()
        .expect("rbuild");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// rawjson events without their times.
fn events(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| {
            let mut v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let o = v.as_object_mut().expect("object");
            o.remove("time");
            o.remove("duration");
            v.to_string()
        })
        .collect()
}

/// Plain lines with their times replaced by `T`.
fn plain(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("image sha256:"))
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    let t = w.trim_end_matches('s');
                    if t.contains('.') && t.parse::<f64>().is_ok() {
                        "T"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn rawjson_events_for_an_uncached_a_cached_and_a_failed_build() {
    let Some(s) = Setup::new() else { return };
    let ctx = context(&s, "json", DOCKERFILE);
    let (code, _, err) = build(&s, &ctx, "rawjson");
    assert_eq!(code, Some(0), "{err}");
    let uncached = [
        r#"{"event":"step-start","name":"[1/3] FROM localhost/busybox:latest","step":1}"#,
        r#"{"event":"step-end","status":"cached","step":1}"#,
        r#"{"event":"step-start","name":"[2/3] RUN echo hello","step":2}"#,
        r#"{"event":"step-miss","reason":"no earlier build of this step","step":2}"#,
        r#"{"event":"step-output","step":2,"text":"hello"}"#,
        r#"{"event":"step-end","status":"done","step":2}"#,
        r#"{"event":"step-start","name":"[3/3] COPY f /f","step":3}"#,
        r#"{"event":"step-miss","reason":"no earlier build of this step","step":3}"#,
        r#"{"event":"step-end","status":"done","step":3}"#,
        r#"{"cached":1,"event":"build-end","ran":2,"steps":3}"#,
    ];
    let mut got = events(&err);
    let image = got.pop().expect("an image event");
    assert!(
        image.starts_with(r#"{"event":"image","id":"sha256:"#),
        "{image}"
    );
    assert_eq!(got, uncached);
    let (code, _, err) = build(&s, &ctx, "rawjson");
    assert_eq!(code, Some(0), "{err}");
    let cached = [
        r#"{"event":"step-start","name":"[1/3] FROM localhost/busybox:latest","step":1}"#,
        r#"{"event":"step-end","status":"cached","step":1}"#,
        r#"{"event":"step-start","name":"[2/3] RUN echo hello","step":2}"#,
        r#"{"event":"step-end","status":"cached","step":2}"#,
        r#"{"event":"step-start","name":"[3/3] COPY f /f","step":3}"#,
        r#"{"event":"step-end","status":"cached","step":3}"#,
        r#"{"cached":3,"event":"build-end","ran":0,"steps":3}"#,
    ];
    let mut got = events(&err);
    got.pop();
    assert_eq!(got, cached);

    let failing = context(
        &s,
        "json-fail",
        "FROM localhost/busybox:latest\nRUN echo oops && exit 3\n",
    );
    let (code, _, err) = build(&s, &failing, "rawjson");
    assert_eq!(code, Some(1));
    let mut lines = err.lines();
    let json: Vec<&str> = lines.by_ref().take(6).collect();
    assert_eq!(
        events(&json.join("\n")),
        [
            r#"{"event":"step-start","name":"[1/2] FROM localhost/busybox:latest","step":1}"#,
            r#"{"event":"step-end","status":"cached","step":1}"#,
            r#"{"event":"step-start","name":"[2/2] RUN echo oops && exit 3","step":2}"#,
            r#"{"event":"step-miss","reason":"no earlier build of this step","step":2}"#,
            r#"{"event":"step-output","step":2,"text":"oops"}"#,
            r#"{"event":"step-end","status":"error","step":2}"#,
        ]
    );
    assert!(err.contains("exit code: 3"), "{err}");
}

#[test]
fn plain_lines_for_an_uncached_and_a_cached_build() {
    let Some(s) = Setup::new() else { return };
    let ctx = context(&s, "plain", DOCKERFILE);
    let (code, _, err) = build(&s, &ctx, "plain");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        plain(&err),
        [
            "#1 [1/3] FROM localhost/busybox:latest",
            "#1 CACHED",
            "#2 [2/3] RUN echo hello",
            "#2 cache miss: no earlier build of this step",
            "#2 T hello",
            "#2 DONE T",
            "#3 [3/3] COPY f /f",
            "#3 cache miss: no earlier build of this step",
            "#3 DONE T",
        ]
    );
    let (_, _, err) = build(&s, &ctx, "plain");
    assert_eq!(
        plain(&err),
        [
            "#1 [1/3] FROM localhost/busybox:latest",
            "#1 CACHED",
            "#2 [2/3] RUN echo hello",
            "#2 CACHED",
            "#3 [3/3] COPY f /f",
            "#3 CACHED",
        ]
    );
    let (code, out, err) = build(&s, &ctx, "quiet");
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert!(
        out.trim().starts_with("sha256:") && out.lines().count() == 1,
        "{out}"
    );
}

#[test]
fn tty_mode_shows_running_steps_with_their_output_in_a_terminal() {
    let Some(s) = Setup::new() else { return };
    let has_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tmux {
        busybox_store::skip("needs tmux (apt-get install tmux)");
        return;
    }
    let ctx = context(
        &s,
        "tty",
        "FROM localhost/busybox:latest\nRUN for i in 1 2 3 4 5 6; do echo line $i; sleep 0.4; done\n",
    );
    let session = format!("rbuild-tty-{}", std::process::id());
    let command = format!(
        "{RBUILD} build --root {} --progress auto {ctx}; echo EXIT=$?; sleep 30",
        s.store()
    );
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "120",
            "-y",
            "30",
            &command,
        ])
        .status()
        .expect("tmux");
    assert!(status.success());
    let capture = || {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &session])
            .output()
            .expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut during = String::new();
    let mut screen = String::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        screen = capture();
        if screen.contains("│ line 3") && during.is_empty() {
            during = screen.clone();
        }
        if screen.contains("EXIT=") {
            break;
        }
    }
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .status();
    assert!(during.contains("#2 [2/2] RUN for i in"), "{during}");
    assert!(
        during.contains("│ line 2"),
        "the last output lines under the step:\n{during}"
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("DONE"), "{screen}");
    assert!(
        screen.contains("2 steps in"),
        "a summary at the end:\n{screen}"
    );
    assert!(
        !screen.contains("│ line"),
        "live lines are cleared:\n{screen}"
    );
}

#[test]
fn a_failed_step_shows_its_line_its_last_ten_lines_and_where_the_rest_is() {
    let Some(s) = Setup::new() else { return };
    let ctx = context(
        &s,
        "failure",
        "FROM localhost/busybox:latest\nRUN true\nRUN for i in $(seq 1 14); do echo out $i; done; exit 3\n",
    );
    let (code, _, err) = build(&s, &ctx, "quiet");
    assert_eq!(code, Some(1));
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(err.contains("Dockerfile:3:1"), "{err}");
    assert!(
        err.contains("3 | RUN for i in"),
        "the line as a snippet:\n{err}"
    );
    assert!(
        err.contains("| out 5\n") && err.contains("| out 14\n"),
        "{err}"
    );
    assert!(!err.contains("| out 4\n"), "ten lines, not more:\n{err}");
    let log = err
        .lines()
        .find_map(|l| l.split("whole output: ").nth(1))
        .unwrap_or_else(|| panic!("no log path in:\n{err}"));
    let text = std::fs::read_to_string(log.trim()).expect("the log file");
    assert!(
        text.contains("out 1\n") && text.contains("out 14\n"),
        "{text}"
    );
}
