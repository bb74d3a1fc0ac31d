//! Build-context behaviour: `.dockerignore` rules (behaviours 74, 75), COPY
//! source resolution (wildcards, symlinks: behaviours 3, 4, 10-12) and the
//! content digest with its stat cache.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rbuild::context::{
    Context, ContextError, EntryKind, PatternMatcher, ResolvedSource, StatCache,
};
use tempfile::TempDir;

/// A temp dir holding `files` (path, content); a path ending in `/` is an
/// empty directory.
fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let full = dir.path().join(path);
        if path.ends_with('/') {
            fs::create_dir_all(&full).unwrap();
            continue;
        }
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, content).unwrap();
    }
    dir
}

fn open(dir: &TempDir) -> Context {
    Context::open(dir.path(), Some(&dir.path().join("Dockerfile"))).unwrap()
}

fn listing(ctx: &Context, rel: &str) -> Vec<String> {
    ctx.entries(Path::new(rel))
        .unwrap()
        .iter()
        .map(|e| e.rel.to_string_lossy().into_owned())
        .collect()
}

fn sources(ctx: &Context, src: &str) -> Vec<String> {
    ctx.resolve_source(src)
        .unwrap()
        .iter()
        .map(|s| s.rel.to_string_lossy().into_owned())
        .collect()
}

fn digest(ctx: &Context, src: &str, cache: &mut StatCache) -> String {
    let srcs = ctx.resolve_source(src).unwrap();
    ctx.digest(&srcs, cache).unwrap()
}

// ---- .dockerignore -------------------------------------------------------

#[test]
fn dockerignore_glob_with_exception_behaviour_74() {
    let dir = tree(&[
        ("Dockerfile", "FROM scratch"),
        (".dockerignore", "ba*\n!bay\nDockerfile\n.dockerignore\n"),
        ("foo", "foo"),
        ("bar", "bar"),
        ("baz", "baz"),
        ("bay", "bay"),
    ]);
    let ctx = open(&dir);
    assert_eq!(listing(&ctx, ""), ["bay", "foo"]);
    assert!(ctx.is_excluded(Path::new("bar")));
    assert!(!ctx.is_excluded(Path::new("bay")));
}

#[test]
fn dockerignore_double_star_dir_star_leading_slash_and_comments() {
    let dir = tree(&[
        (
            ".dockerignore",
            "# a comment line\n**/*.log\ndir/**\n/top.txt\n  \n#top2.txt\n",
        ),
        ("a.log", ""),
        ("sub/deep/b.log", ""),
        ("sub/keep.txt", ""),
        ("dir/x", ""),
        ("dir/y/z", ""),
        ("top.txt", ""),
        ("#top2.txt", ""),
        ("sub/top.txt", ""),
    ]);
    let ctx = open(&dir);
    assert_eq!(
        listing(&ctx, ""),
        [
            "#top2.txt",
            ".dockerignore",
            "dir",
            "sub",
            "sub/deep",
            "sub/keep.txt",
            "sub/top.txt",
        ],
        "dir/** keeps dir itself; a leading / anchors at the root; # lines are comments"
    );
}

#[test]
fn exception_reincludes_file_inside_excluded_dir() {
    let dir = tree(&[
        (".dockerignore", "dir\n!dir/keep.txt\nother\n!**/*.md\n"),
        ("dir/keep.txt", "k"),
        ("dir/drop.txt", "d"),
        ("dir/sub/drop", "d"),
        ("other/deep/README.md", "r"),
        ("other/deep/x.c", "x"),
        ("plain/", ""),
    ]);
    let ctx = open(&dir);
    assert_eq!(
        listing(&ctx, ""),
        [
            ".dockerignore",
            "dir",
            "dir/keep.txt",
            "other",
            "other/deep",
            "other/deep/README.md",
            "plain",
        ]
    );
    assert_eq!(listing(&ctx, "dir"), ["dir/keep.txt"]);
    assert_eq!(
        ctx.resolve_source("dir").unwrap(),
        [ResolvedSource {
            rel: "dir".into(),
            is_dir: true,
            given: "dir".into(),
        }]
    );
    assert!(matches!(
        ctx.resolve_source("dir/drop.txt"),
        Err(ContextError::NotFound { .. })
    ));
    assert!(ctx.resolve_source("dir/sub").is_err());
}

#[test]
fn excluded_dir_without_reincluded_content_is_absent() {
    let dir = tree(&[
        (".dockerignore", "dir\n!other/keep\n"),
        ("dir/a", ""),
        ("other/keep", ""),
    ]);
    let ctx = open(&dir);
    assert_eq!(listing(&ctx, ""), [".dockerignore", "other", "other/keep"]);
    assert!(ctx.resolve_source("dir").is_err());
    assert!(ctx.resolve_source("d*").unwrap().is_empty());
}

#[test]
fn dockerfile_specific_ignore_file_takes_priority_behaviour_75() {
    let dir = tree(&[
        (".dockerignore", "a\n"),
        ("Dockerfile.dockerignore", "b\n"),
        ("a", ""),
        ("b", ""),
        ("sub/dev.Dockerfile", ""),
        ("sub/dev.Dockerfile.dockerignore", "c\n"),
        ("c", ""),
    ]);
    let root = dir.path();
    let ctx = Context::open(root, Some(&root.join("Dockerfile"))).unwrap();
    assert_eq!(
        ctx.ignore_file(),
        Some(root.join("Dockerfile.dockerignore").as_path())
    );
    assert!(ctx.resolve_source("a").is_ok());
    assert!(ctx.resolve_source("b").is_err());

    let ctx = Context::open(root, Some(&root.join("sub/dev.Dockerfile"))).unwrap();
    assert!(ctx.resolve_source("a").is_ok() && ctx.resolve_source("b").is_ok());
    assert!(ctx.resolve_source("c").is_err());

    // No per-Dockerfile file: the context's .dockerignore applies.
    let ctx = Context::open(root, Some(&root.join("Other"))).unwrap();
    assert!(ctx.resolve_source("a").is_err());
    assert!(ctx.resolve_source("b").is_ok());
    let ctx = Context::open(root, None).unwrap();
    assert!(ctx.resolve_source("a").is_err());
}

#[test]
fn invalid_ignore_pattern_names_file_line_and_pattern() {
    let dir = tree(&[(".dockerignore", "# fine\nok\n[unclosed\n")]);
    let err = Context::open(dir.path(), None).unwrap_err();
    match &err {
        ContextError::IgnoreFile { file, source } => {
            assert!(file.ends_with(".dockerignore"));
            assert_eq!((source.line, source.pattern.as_str()), (3, "[unclosed"));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains("line 3") && shown.contains("[unclosed"),
        "{shown}"
    );
}

#[test]
fn copy_exclude_patterns_use_the_same_matcher() {
    let pm = PatternMatcher::new(&["*.txt", "!keep.txt", "sub"]).unwrap();
    assert!(pm.matches("a.txt"));
    assert!(!pm.matches("keep.txt"));
    assert!(pm.matches("sub/deep/file"));
    assert!(!pm.matches("dir/a.txt"), "* does not cross /");
    let err = PatternMatcher::new(&["ok", "a[b"]).unwrap_err();
    assert_eq!((err.line, err.pattern.as_str()), (2, "a[b"));
}

// ---- COPY sources --------------------------------------------------------

#[test]
fn wildcard_sources_behaviours_3_and_4() {
    let dir = tree(&[
        ("b.txt", ""),
        ("a.txt", ""),
        ("c.md", ""),
        ("foo", ""),
        ("fxo", ""),
        ("fooo", ""),
        ("dir/one/b", ""),
        ("dir/two/b", ""),
        ("dir/two/c", ""),
        ("dir/three/x/b", ""),
        ("sub/d.txt", ""),
    ]);
    let ctx = open(&dir);
    assert_eq!(sources(&ctx, "*.txt"), ["a.txt", "b.txt"]);
    assert_eq!(sources(&ctx, "/*.txt"), ["a.txt", "b.txt"]);
    assert_eq!(sources(&ctx, "dir/*/b"), ["dir/one/b", "dir/two/b"]);
    assert_eq!(sources(&ctx, "f?o"), ["foo", "fxo"]);
    assert_eq!(sources(&ctx, "[ab].txt"), ["a.txt", "b.txt"]);
    assert_eq!(sources(&ctx, "[^a].txt"), ["b.txt"]);
    assert!(sources(&ctx, "nomatch*").is_empty());
    assert!(sources(&ctx, "missing/*").is_empty());
    let dirs = ctx.resolve_source("dir/t*").unwrap();
    assert!(dirs.iter().all(|s| s.is_dir), "{dirs:?}");
}

#[test]
fn plain_sources_are_cleaned_against_the_root() {
    let dir = tree(&[("sub/dir1/dir2/foo", "x"), ("top", "t")]);
    let ctx = open(&dir);
    for src in [
        "sub/dir1",
        "sub/dir1/",
        "sub/dir1/.",
        "/sub/dir1",
        "../../sub/dir1",
    ] {
        assert_eq!(sources(&ctx, src), ["sub/dir1"], "{src}");
    }
    assert_eq!(ctx.resolve_source(".").unwrap(), [ResolvedSource::root()]);
    assert_eq!(
        listing(&ctx, "sub/dir1"),
        ["sub/dir1/dir2", "sub/dir1/dir2/foo"]
    );
    assert_eq!(listing(&ctx, "top"), ["top"]);
}

#[test]
fn missing_source_error_resembles_buildkit() {
    let dir = tree(&[("present", "")]);
    let ctx = open(&dir);
    let err = ctx.resolve_source("missing/file.txt").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, ContextError::NotFound { path } if path == "/missing/file.txt"));
    assert!(msg.starts_with("failed to compute cache key:"), "{msg}");
    assert!(msg.ends_with("\"/missing/file.txt\": not found"), "{msg}");
}

// ---- symlinks ------------------------------------------------------------

#[test]
fn symlink_named_as_source_is_followed_behaviours_10_12() {
    let dir = tree(&[("bar", "bar"), ("sub/foo", "foo"), ("baz", "baz")]);
    let root = dir.path();
    symlink("bar", root.join("foo")).unwrap();
    symlink("sub", root.join("link")).unwrap();
    symlink("second", root.join("l1")).unwrap();
    symlink("baz", root.join("second")).unwrap();
    let ctx = open(&dir);
    assert_eq!(sources(&ctx, "foo"), ["bar"]);
    assert_eq!(sources(&ctx, "link/foo"), ["sub/foo"]);
    assert_eq!(
        ctx.resolve_source("link").unwrap(),
        [ResolvedSource {
            rel: "sub".into(),
            is_dir: true,
            given: "link".into(),
        }]
    );
    assert_eq!(
        sources(&ctx, "l*"),
        ["baz", "sub"],
        "chains followed, in match order"
    );
    assert_eq!(sources(&ctx, "link/f*"), ["sub/foo"]);
}

#[test]
fn symlink_inside_a_copied_tree_is_kept() {
    let dir = tree(&[("tree/file", "x")]);
    symlink("file", dir.path().join("tree/link")).unwrap();
    symlink("/etc/passwd", dir.path().join("tree/abs")).unwrap();
    let ctx = open(&dir);
    let entries = ctx.entries(Path::new("tree")).unwrap();
    let kinds: Vec<(String, EntryKind)> = entries
        .iter()
        .map(|e| (e.rel.to_string_lossy().into_owned(), e.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "tree/abs".to_string(),
                EntryKind::Symlink {
                    target: "/etc/passwd".into()
                }
            ),
            ("tree/file".to_string(), EntryKind::File),
            (
                "tree/link".to_string(),
                EntryKind::Symlink {
                    target: "file".into()
                }
            ),
        ]
    );
}

#[test]
fn symlinks_pointing_outside_resolve_inside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    fs::write(outer.path().join("secret"), "outside").unwrap();
    let ctx_dir = outer.path().join("ctx");
    fs::create_dir_all(ctx_dir.join("etc")).unwrap();
    fs::create_dir_all(ctx_dir.join("a/b")).unwrap();
    fs::write(ctx_dir.join("etc/hosts"), "inside").unwrap();
    fs::write(ctx_dir.join("secret"), "inside secret").unwrap();
    symlink("/etc", ctx_dir.join("abs")).unwrap();
    symlink("../../..", ctx_dir.join("a/b/up")).unwrap();
    symlink("../../../../secret", ctx_dir.join("a/b/s")).unwrap();
    symlink("/nonexistent-rbuild-path", ctx_dir.join("dangling")).unwrap();
    symlink("/etc/hosts", ctx_dir.join("a/b/nested-abs")).unwrap();
    let ctx = Context::open(&ctx_dir, None).unwrap();

    assert_eq!(sources(&ctx, "abs/hosts"), ["etc/hosts"]);
    assert_eq!(sources(&ctx, "abs"), ["etc"]);
    assert_eq!(sources(&ctx, "a/b/up"), [""], "clamped at the root");
    assert_eq!(sources(&ctx, "a/b/up/etc/hosts"), ["etc/hosts"]);
    assert_eq!(sources(&ctx, "a/b/s"), ["secret"]);
    assert_eq!(
        sources(&ctx, "a/b/nested-abs"),
        ["etc/hosts"],
        "absolute = from the root"
    );
    let file = ctx
        .root()
        .join(&ctx.resolve_source("a/b/s").unwrap()[0].rel);
    assert_eq!(fs::read_to_string(file).unwrap(), "inside secret");
    assert!(
        ctx.resolve_source("abs/passwd").is_err(),
        "host /etc not reachable"
    );
    assert!(ctx.resolve_source("dangling").is_err());
}

#[test]
fn symlink_loop_is_an_error_not_a_hang() {
    let dir = tree(&[]);
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    let ctx = open(&dir);
    assert!(matches!(
        ctx.resolve_source("a"),
        Err(ContextError::TooManyLinks { .. })
    ));
}

#[test]
fn excluded_symlink_or_target_is_absent() {
    let dir = tree(&[
        (".dockerignore", "link\nhidden\n"),
        ("sub/f", ""),
        ("hidden", ""),
    ]);
    symlink("sub", dir.path().join("link")).unwrap();
    symlink("hidden", dir.path().join("tohidden")).unwrap();
    let ctx = open(&dir);
    assert!(ctx.resolve_source("link/f").is_err());
    assert!(ctx.resolve_source("tohidden").is_err());
    assert_eq!(sources(&ctx, "sub/f"), ["sub/f"]);
}

// ---- digest and stat cache -----------------------------------------------

fn set_mtime(path: &Path, secs_ago: u64) {
    // A read-only handle is enough for the owner, and works for directories.
    let file = fs::File::open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
        .unwrap();
}

#[test]
fn digest_is_stable_and_ignores_mtime() {
    let dir = tree(&[("src/a", "alpha"), ("src/b/c", "gamma")]);
    let d1 = digest(&open(&dir), "src", &mut StatCache::new());
    let d2 = digest(&open(&dir), "src", &mut StatCache::new());
    assert_eq!(d1, d2);
    assert!(d1.starts_with("sha256:") && d1.len() == 7 + 64, "{d1}");

    set_mtime(&dir.path().join("src/a"), 3600);
    set_mtime(&dir.path().join("src/b"), 7200);
    assert_eq!(digest(&open(&dir), "src", &mut StatCache::new()), d1);
}

#[test]
fn digest_changes_with_content_mode_and_link_target() {
    let dir = tree(&[("src/a", "alpha"), ("src/t1", ""), ("src/t2", "")]);
    symlink("t1", dir.path().join("src/l")).unwrap();
    let base = digest(&open(&dir), "src", &mut StatCache::new());

    fs::write(dir.path().join("src/a"), "alphb").unwrap();
    let content = digest(&open(&dir), "src", &mut StatCache::new());
    assert_ne!(content, base);

    let a = dir.path().join("src/a");
    fs::set_permissions(&a, fs::Permissions::from_mode(0o700)).unwrap();
    let mode = digest(&open(&dir), "src", &mut StatCache::new());
    assert_ne!(mode, content);

    fs::remove_file(dir.path().join("src/l")).unwrap();
    symlink("t2", dir.path().join("src/l")).unwrap();
    assert_ne!(digest(&open(&dir), "src", &mut StatCache::new()), mode);
}

#[test]
fn digest_covers_only_selected_and_unignored_entries() {
    let dir = tree(&[
        (".dockerignore", "src/*.tmp\n"),
        ("src/a", "a"),
        ("src/x.tmp", "1"),
        ("other", "o"),
    ]);
    let ctx = open(&dir);
    let before = digest(&ctx, "src", &mut StatCache::new());
    fs::write(dir.path().join("src/x.tmp"), "2").unwrap();
    fs::write(dir.path().join("other"), "changed").unwrap();
    assert_eq!(digest(&ctx, "src", &mut StatCache::new()), before);
    let both = ctx.resolve_source("*").unwrap();
    let one = ctx.resolve_source("src").unwrap();
    let mut cache = StatCache::new();
    assert_ne!(
        ctx.digest(&both, &mut cache).unwrap(),
        ctx.digest(&one, &mut cache).unwrap()
    );
}

#[test]
fn stat_cache_avoids_rereading_unchanged_files() {
    let dir = tree(&[("src/a", "alpha"), ("src/b", "beta"), ("src/c/d", "delta")]);
    let ctx = open(&dir);
    let mut cache = StatCache::new();
    let first = digest(&ctx, "src", &mut cache);
    assert_eq!(cache.files_read(), 3);

    assert_eq!(digest(&ctx, "src", &mut cache), first);
    assert_eq!(cache.files_read(), 3, "nothing re-read");
    assert_eq!(cache.hits(), 3);

    // A changed mtime makes the file be read again; the digest stays.
    set_mtime(&dir.path().join("src/b"), 60);
    assert_eq!(digest(&ctx, "src", &mut cache), first);
    assert_eq!(cache.files_read(), 4);

    // Same size, new content: stat differs, so the change is seen.
    fs::write(dir.path().join("src/a"), "ALPHA").unwrap();
    assert_ne!(digest(&ctx, "src", &mut cache), first);
    assert_eq!(cache.files_read(), 5);
}

#[test]
fn stat_cache_persists_and_tolerates_corruption() {
    let dir = tree(&[("src/a", "alpha"), ("src/b", "beta")]);
    let store = tempfile::tempdir().unwrap();
    let cache_path = store.path().join("cache/context.json");
    let ctx = open(&dir);

    let mut cache = StatCache::load(&cache_path);
    assert!(cache.is_empty());
    let first = digest(&ctx, "src", &mut cache);
    cache.save(&cache_path).unwrap();

    let mut reloaded = StatCache::load(&cache_path);
    assert_eq!(reloaded.len(), 2);
    assert_eq!(digest(&ctx, "src", &mut reloaded), first);
    assert_eq!(reloaded.files_read(), 0, "served from the saved cache");

    fs::write(&cache_path, b"{\"version\":1,\"entries\":{\"src/a\":").unwrap();
    let mut corrupt = StatCache::load(&cache_path);
    assert!(corrupt.is_empty());
    assert_eq!(digest(&ctx, "src", &mut corrupt), first);
    assert_eq!(corrupt.files_read(), 2);
}

#[test]
fn stat_cache_entry_is_not_trusted_for_a_replaced_file() {
    let dir = tree(&[("f", "one")]);
    let ctx = open(&dir);
    let mut cache = StatCache::new();
    let first = digest(&ctx, "f", &mut cache);
    // Replace the file by another inode with the same size and mtime.
    let path = dir.path().join("f");
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    fs::write(dir.path().join("g"), "two").unwrap();
    fs::rename(dir.path().join("g"), &path).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_ne!(digest(&ctx, "f", &mut cache), first);
}
