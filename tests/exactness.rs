//! Regression tests for builds that differed from BuildKit's (issue 7): each
//! test names the BuildKit behaviour it pins. Steps run for real on a busybox
//! base, so these need root, overlayfs and `/bin/busybox`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::Setup;

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_run_after_two_runs_that_change_nothing_builds() {
    let Some(s) = Setup::new() else { return };
    let (_, root) = s.build(
        "noop-twice",
        "RUN echo one\nRUN echo two\nRUN echo three > /three\n",
        &[],
        true,
    );
    assert_eq!(read(&root, "three"), "three\n");
}

#[test]
fn ten_runs_that_change_nothing_then_one_that_does() {
    let Some(s) = Setup::new() else { return };
    let steps = "RUN true\n".repeat(10) + "RUN echo done > /done\nRUN true\nRUN cat /done\n";
    let (_, root) = s.build("noop-ten", &steps, &[], true);
    assert_eq!(read(&root, "done"), "done\n");
}

#[test]
fn scratch_images_get_buildkits_working_dir_and_path() {
    let Some(s) = Setup::new() else { return };
    s.build_context(
        "scratch",
        "FROM scratch\nCOPY f /f\n",
        &[("f", "x\n")],
        &[],
        true,
    );
    let config = s.config("scratch");
    assert_eq!(config["WorkingDir"], "/", "{config}");
    assert_eq!(
        config["Env"],
        serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
        "{config}"
    );
}

#[test]
fn a_symlink_named_as_a_copy_source_keeps_the_name_it_was_given() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "FROM localhost/busybox:latest AS base\n\
                      FROM localhost/busybox:latest\n\
                      COPY --from=base /bin/paste /test/\n\
                      COPY --from=base /bin/sh /sh-copy\n\
                      COPY link.txt /ctx/\n\
                      RUN /test/paste /ctx/link.txt > /pasted\n";
    let ctx = s.dir.path().join("ctx-symlink-source");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("real.txt"), "real\n").expect("real.txt");
    std::os::unix::fs::symlink("real.txt", ctx.join("link.txt")).expect("symlink");
    let (_, root) = s.build_context("symlink-source", dockerfile, &[], &[], true);
    let busybox_size = std::fs::metadata("/bin/busybox").expect("busybox").size();
    for copied in ["test/paste", "sh-copy"] {
        let meta = std::fs::symlink_metadata(root.join(copied)).expect(copied);
        assert!(meta.is_file(), "{copied} is the link's target's content");
        assert_eq!(meta.size(), busybox_size, "{copied}");
    }
    assert!(
        !root.join("test/busybox").exists(),
        "not named after the target"
    );
    assert!(std::fs::symlink_metadata(root.join("ctx/link.txt"))
        .expect("ctx/link.txt")
        .is_file());
    assert!(!root.join("ctx/real.txt").exists());
    assert_eq!(read(&root, "pasted"), "real\n");
}

#[test]
fn a_cache_mount_from_a_stage_starts_with_that_stages_files() {
    let Some(s) = Setup::new() else { return };
    let steps = "RUN mkdir -p /seed/sub && echo seeded > /seed/sub/f\n\
                 FROM localhost/busybox:latest\n\
                 RUN --mount=type=cache,from=seedstage,source=/seed,target=/c cat /c/sub/f > /from-dir\n\
                 RUN --mount=type=cache,id=whole,from=seedstage,target=/c cat /c/seed/sub/f > /from-root\n";
    let dockerfile = format!("FROM localhost/busybox:latest AS seedstage\n{steps}");
    let (_, root) = s.build_context("cache-from", &dockerfile, &[], &[], true);
    assert_eq!(read(&root, "from-dir"), "seeded\n");
    assert_eq!(read(&root, "from-root"), "seeded\n");
}

#[test]
fn one_wildcard_source_with_several_matches_copies_each_in_turn() {
    let Some(s) = Setup::new() else { return };
    let files = [("a.txt", "a\n"), ("b.txt", "b\n"), ("dir/c.txt", "c\n")];
    let dockerfile = "FROM scratch\n\
                      COPY *.txt /testdir\n\
                      COPY dir/*.txt nomatch* /existing/\n\
                      COPY *.nothing /nothing/\n";
    let (_, root) = s.build_context("wildcards", dockerfile, &files, &[], true);
    // Each match is copied to the destination in turn: the first makes the
    // file /testdir and the next overwrites it.
    assert!(root.join("testdir").is_file());
    assert_eq!(read(&root, "testdir"), "b\n");
    assert_eq!(read(&root, "existing/c.txt"), "c\n");
    assert!(
        !root.join("nothing").exists(),
        "an empty wildcard copies nothing"
    );
}

#[test]
fn a_missing_plain_source_is_still_an_error() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "FROM scratch\nCOPY missing.txt /x/\n";
    let (out, _) = s.build_context("missing-source", dockerfile, &[], &[], false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.txt"), "{err}");
}

#[test]
fn an_empty_run_is_accepted() {
    let Some(s) = Setup::new() else { return };
    let (_, root) = s.build("empty-run", "RUN\nRUN echo after > /after\n", &[], true);
    assert_eq!(read(&root, "after"), "after\n");
}

#[test]
fn context_files_are_roots_and_a_stages_keep_their_owner_under_one_key() {
    let Some(s) = Setup::new() else { return };
    // Same path, content and owner in the context and in a stage: the two
    // COPYs must not share a cached layer, since their owners differ.
    let from_stage = "FROM localhost/busybox:latest AS builder\n\
                      COPY --chown=1000:1000 f /f\n\
                      FROM localhost/busybox:latest\n\
                      COPY --from=builder /f /a/f\n";
    let ctx = s.dir.path().join("ctx-owners-stage");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("f"), "same\n").expect("f");
    std::os::unix::fs::chown(ctx.join("f"), Some(1000), Some(1000)).expect("chown");
    let (_, root) = s.build_context("owners-stage", from_stage, &[], &[], true);
    let meta = std::fs::metadata(root.join("a/f")).expect("a/f");
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    let from_context = "FROM localhost/busybox:latest\nCOPY f /a/f\n";
    let ctx = s.dir.path().join("ctx-owners-context");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("f"), "same\n").expect("f");
    std::os::unix::fs::chown(ctx.join("f"), Some(1000), Some(1000)).expect("chown");
    let (_, root) = s.build_context("owners-context", from_context, &[], &[], true);
    let meta = std::fs::metadata(root.join("a/f")).expect("a/f");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "context files arrive as root's"
    );
}

#[test]
fn arg_values_pass_to_child_stages_but_the_images_env_wins_there() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "FROM localhost/busybox:latest AS parent\n\
                      ENV X=from-env\n\
                      ARG X=from-arg\n\
                      ARG V=1\n\
                      RUN echo \"$X\" > /in-parent\n\
                      FROM parent\n\
                      ARG V\n\
                      RUN echo \"$X $V\" > /in-child\n";
    let (_, root) = s.build_context("arg-inherit", dockerfile, &[], &[], true);
    assert_eq!(
        read(&root, "in-parent"),
        "from-arg\n",
        "an ARG after an ENV wins"
    );
    assert_eq!(
        read(&root, "in-child"),
        "from-env 1\n",
        "the child replays the image's ENV; a bare ARG keeps the inherited value"
    );
}

#[test]
fn a_directory_onto_a_file_fails_and_an_archive_makes_a_directory() {
    let Some(s) = Setup::new() else { return };
    let files = [
        ("f", "file\n"),
        ("dir/inside", "in\n"),
        ("conf.json", "{}\n"),
    ];
    let (out, _) = s.build_context(
        "dir-onto-file",
        "FROM scratch\nCOPY f dir /d\n",
        &files,
        &[],
        false,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot copy to non-directory"), "{err}");

    let ctx = s.dir.path().join("ctx-archive-then-file");
    std::fs::create_dir_all(ctx.join("tree")).expect("tree");
    std::fs::write(ctx.join("tree/bin.sh"), "echo\n").expect("bin.sh");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(ctx.join("tree"))
        .arg("-cf")
        .arg(ctx.join("app.tar"))
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    let (_, root) = s.build_context(
        "archive-then-file",
        "FROM scratch\nADD app.tar conf.json /opt/app\n",
        &files,
        &[],
        true,
    );
    assert_eq!(read(&root, "opt/app/bin.sh"), "echo\n");
    assert_eq!(read(&root, "opt/app/conf.json"), "{}\n");
}
