//! What is rebuilt, and why (issue 9): editing one context file rebuilds
//! only the COPY that selects it and what follows; touching a file or
//! changing an ignored one rebuilds nothing; a build arg one stage uses
//! rebuilds only that stage; each miss says why in `--progress plain`.

use std::collections::BTreeMap;
use std::process::Command;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

const DOCKERFILE: &str = "FROM localhost/busybox:latest AS other\n\
                          ARG ONLY_OTHER=1\n\
                          RUN echo $ONLY_OTHER > /other\n\
                          FROM localhost/busybox:latest\n\
                          COPY a.txt /a.txt\n\
                          COPY b.txt /b.txt\n\
                          RUN cat /a.txt /b.txt > /ab\n\
                          COPY --from=other /other /other\n";

/// Step instruction → `CACHED`, or `miss: <reason>`.
fn outcomes(s: &Setup, ctx: &std::path::Path, extra: &[&str]) -> BTreeMap<String, String> {
    let store = s.store();
    let ctx = ctx.to_string_lossy().into_owned();
    let mut args = vec!["build", "--root", &store, "--progress", "plain"];
    args.extend_from_slice(extra);
    args.push(&ctx);
    let out = Command::new(RBUILD).args(&args).output().expect("rbuild");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let mut labels = BTreeMap::new();
    let mut result = BTreeMap::new();
    for line in err.lines() {
        let Some((id, rest)) = line.split_once(' ') else {
            continue;
        };
        if let Some(label) = rest.strip_prefix('[') {
            let instruction = label.split_once("] ").map_or(label, |(_, i)| i);
            labels.insert(id.to_string(), instruction.to_string());
        } else if let Some(label) = labels.get(id) {
            if rest == "CACHED" {
                result.insert(label.clone(), "CACHED".to_string());
            } else if let Some(reason) = rest.strip_prefix("cache miss: ") {
                result.insert(label.clone(), format!("miss: {reason}"));
            }
        }
    }
    result.retain(|k, _| !k.starts_with("FROM"));
    result
}

/// Every file under the store's `records/` with its modification time.
fn records(s: &Setup) -> BTreeMap<std::path::PathBuf, std::time::SystemTime> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![std::path::Path::new(&s.store()).join("records")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("records").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                found.insert(entry.path(), meta.modified().expect("mtime"));
            }
        }
    }
    found
}

fn all_cached(o: &BTreeMap<String, String>) -> bool {
    o.values().all(|v| v == "CACHED")
}

#[test]
fn only_what_changed_is_rebuilt_and_each_miss_says_why() {
    let Some(s) = Setup::new() else { return };
    let ctx = s.dir.path().join("ctx-miss");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).expect("Dockerfile");
    std::fs::write(ctx.join(".dockerignore"), "ignored.txt\n").expect("ignore");
    for (name, text) in [("a.txt", "a\n"), ("b.txt", "b\n"), ("ignored.txt", "i\n")] {
        std::fs::write(ctx.join(name), text).expect("file");
    }
    let first = outcomes(&s, &ctx, &[]);
    assert!(first.values().all(|v| v.starts_with("miss:")), "{first:?}");

    // mtime only, and an ignored file: nothing rebuilds.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(ctx.join("a.txt"))
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    std::fs::write(ctx.join("ignored.txt"), "changed\n").expect("ignored");
    let again = outcomes(&s, &ctx, &[]);
    assert!(all_cached(&again), "{again:?}");
    // Once more: a build served wholly from the cache rewrites no record.
    let before = records(&s);
    assert!(all_cached(&outcomes(&s, &ctx, &[])));
    assert_eq!(records(&s), before);

    std::fs::write(ctx.join("b.txt"), "edited\n").expect("edit");
    let edited = outcomes(&s, &ctx, &[]);
    assert_eq!(edited["COPY a.txt /a.txt"], "CACHED");
    assert_eq!(
        edited["COPY b.txt /b.txt"],
        "miss: files changed: b.txt (changed)"
    );
    assert_eq!(
        edited["RUN cat /a.txt /b.txt > /ab"],
        "miss: an earlier step was rebuilt"
    );
    assert_eq!(
        edited["RUN echo $ONLY_OTHER > /other"], "CACHED",
        "{edited:?}"
    );

    let arg = outcomes(&s, &ctx, &["--build-arg", "ONLY_OTHER=2"]);
    assert_eq!(
        arg["RUN echo $ONLY_OTHER > /other"],
        "miss: build arg or env: ONLY_OTHER changed from \"1\" to \"2\""
    );
    assert_eq!(arg["COPY a.txt /a.txt"], "CACHED");
    assert_eq!(arg["COPY b.txt /b.txt"], "CACHED");
    assert_eq!(arg["RUN cat /a.txt /b.txt > /ab"], "CACHED");
    assert_eq!(
        arg["COPY --from=other /other /other"],
        "miss: files changed: other (changed)"
    );

    let forced = outcomes(
        &s,
        &ctx,
        &["--build-arg", "ONLY_OTHER=2", "--no-cache-filter", "other"],
    );
    assert_eq!(
        forced["RUN echo $ONLY_OTHER > /other"],
        "miss: --no-cache-filter"
    );
    assert_eq!(forced["COPY a.txt /a.txt"], "CACHED");
    let all = outcomes(&s, &ctx, &["--build-arg", "ONLY_OTHER=2", "--no-cache"]);
    assert!(all.values().all(|v| v == "miss: --no-cache"), "{all:?}");
}

/// The store's snapshot directories holding `path`, with its inode in each.
fn snapshots_holding(s: &Setup, path: &str) -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::path::Path::new(&s.store()).join("snapshots");
    let mut inodes: Vec<u64> = std::fs::read_dir(dir)
        .expect("snapshots")
        .filter_map(|e| std::fs::symlink_metadata(e.ok()?.path().join(path)).ok())
        .map(|m| m.ino())
        .collect();
    inodes.sort();
    inodes
}

/// A COPY rebuilt because one of its files changed takes the others from
/// its last snapshot (hard links inside the store) instead of writing them
/// again, and the RUN after it sees every file's current content.
#[test]
fn a_rebuilt_copy_reuses_its_unchanged_files_and_the_next_run_sees_the_edit() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "FROM localhost/busybox:latest\n\
                      COPY src /src\n\
                      RUN cat /src/a /src/b > /all\n";
    let files = [("src/a", "a\n"), ("src/b", "b\n")];
    let (_, out) = s.build_context("reuse", dockerfile, &files, &[], true);
    assert_eq!(std::fs::read_to_string(out.join("all")).unwrap(), "a\nb\n");
    let (_, out) = s.build_context("reuse", dockerfile, &[("src/b", "B\n")], &[], true);
    assert_eq!(std::fs::read_to_string(out.join("all")).unwrap(), "a\nB\n");

    let a = snapshots_holding(&s, "src/a");
    assert_eq!(a.len(), 2, "one snapshot per build of the COPY");
    assert_eq!(a[0], a[1], "the unchanged file is linked, not written");
    let b = snapshots_holding(&s, "src/b");
    assert_eq!(b.len(), 2);
    assert_ne!(b[0], b[1], "the edited file is written anew");
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A rebuild served from the cache gives the same image in a later second,
/// even when the base's history carries the very second of the first build
/// (a base imported just before it, as CI jobs do).
#[test]
fn a_cached_rebuild_in_a_later_second_gives_the_same_image() {
    let Some(s) = Setup::new() else { return };
    let store = s.store();
    let tar = s
        .dir
        .path()
        .join("rootfs.tar")
        .to_string_lossy()
        .into_owned();
    let second = now_secs() + 1;
    let import = Command::new(RBUILD)
        .args([
            "import",
            "--root",
            &store,
            &tar,
            "localhost/base-now:latest",
        ])
        .env("SOURCE_DATE_EPOCH", second.to_string())
        .output()
        .expect("import");
    assert!(import.status.success());
    while now_secs() < second {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ctx = s.dir.path().join("ctx-later");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/base-now:latest\nRUN echo hi > /hi\n",
    )
    .expect("Dockerfile");
    let ctx = ctx.to_string_lossy().into_owned();
    let build = || {
        let out = s.rbuild(
            &["build", "--root", &store, "--progress", "quiet", &ctx],
            true,
        );
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            now_secs(),
        )
    };
    let (first, first_done) = build();
    while now_secs() <= second {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (again, _) = build();
    assert!(
        first_done == second || first != again,
        "the first build ran in the base's second"
    );
    assert_eq!(first, again);
}
