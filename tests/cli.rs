//! The command-line contract: default subcommand, exit statuses, and errors
//! that name the file, line and column with a caret and a hint.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn rbuild(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbuild"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rbuild");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("rbuild runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rbuild-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn parse_error_shows_location_caret_and_hint_with_exit_2() {
    let out = rbuild(&["parse", "-"], Some("FROM a\nCOPPY x y\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown instruction: COPPY"), "{err}");
    assert!(err.contains("--> Dockerfile:2:1"), "{err}");
    assert!(err.contains("2 | COPPY x y\n  | ^^^^^"), "{err}");
    assert!(err.contains("hint: did you mean COPY?"), "{err}");
}

#[test]
fn parse_json_prints_the_plan() {
    let out = rbuild(
        &["parse", "--json", "-"],
        Some("FROM alpine AS base\nRUN echo hi\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["stages"][0]["name"], "base");
    assert_eq!(
        plan["stages"][0]["steps"][0]["command"]["args"]["command"]["value"],
        "echo hi"
    );
}

#[test]
fn parse_buildkit_dump_format() {
    let out = rbuild(
        &["parse", "--format", "buildkit-dump", "-"],
        Some("FROM a\nENV x=1\n"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "(from \"a\")\n(env \"x\" \"1\" \"=\")\n"
    );
}

#[test]
fn build_without_subcommand_is_build() {
    let dir = scratch_dir("default-build");
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY x /\n").expect("write");
    std::fs::write(dir.join("x"), "x").expect("write");
    let root = dir.join("store");
    let root = root.to_str().expect("utf-8");
    let ctx = dir.to_str().expect("utf-8");
    let with = rbuild(&["build", "--root", root, "--progress", "quiet", ctx], None);
    let without = rbuild(&["--root", root, "--progress", "quiet", ctx], None);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert_eq!(without.status.code(), Some(0), "{}", stderr(&without));
}

#[test]
fn build_with_bad_dockerfile_exits_2_and_missing_target_is_reported() {
    let dir = scratch_dir("bad-build");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM a\nRUN --mount=typ=cache true\n",
    )
    .expect("write");
    let out = rbuild(
        &[
            "-f",
            dir.join("Dockerfile").to_str().expect("utf-8"),
            dir.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(":2:5"), "{}", stderr(&out));
    std::fs::write(dir.join("Dockerfile"), "FROM a AS one\n").expect("write");
    let out = rbuild(&["--target", "two", dir.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("target stage \"two\" could not be found"));
}

#[test]
fn lowercase_dockerfile_is_found_by_default() {
    let dir = scratch_dir("lowercase");
    std::fs::write(dir.join("dockerfile"), "FROM a\nCOPPY x\n").expect("write");
    let out = rbuild(&["build", dir.to_str().expect("utf-8")], None);
    assert!(stderr(&out).contains("dockerfile:2:1"), "{}", stderr(&out));
}

#[test]
fn lint_reports_warnings_and_exit_status() {
    let out = rbuild(&["lint", "-"], Some("FROM alpine as Build\nCMD echo hi\n"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("FromAsCasing"), "{err}");
    assert!(err.contains("JSONArgsRecommended"), "{err}");
    let clean = rbuild(
        &["lint", "-"],
        Some("FROM alpine AS build\nCMD [\"echo\", \"hi\"]\n"),
    );
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
}

#[test]
fn usage_errors_exit_2() {
    let out = rbuild(&["parse", "--format", "nope", "-"], Some(""));
    assert_eq!(out.status.code(), Some(2));
    let out = rbuild(&["parse", "/nonexistent/Dockerfile"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/Dockerfile"));
}

#[test]
fn dockerfile_from_stdin_builds() {
    let dir = scratch_dir("stdin-build");
    std::fs::write(dir.join("x.txt"), "x\n").expect("write");
    let root = dir.join("store");
    let out_dir = dir.join("out");
    let output = format!("type=local,dest={}", out_dir.display());
    let out = rbuild(
        &[
            "build",
            "--root",
            root.to_str().expect("utf-8"),
            "-f",
            "-",
            "--output",
            &output,
            dir.to_str().expect("utf-8"),
        ],
        Some("FROM scratch\nCOPY x.txt /copied.txt\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("copied.txt")).expect("copied"),
        "x\n"
    );
}
