//! Integration tests for the content store (`rbuild::store`).
//!
//! The crash tests re-run this test binary as a child process, filtered to
//! one `child_*` helper test and told what to do by an environment variable;
//! without that variable the helpers return at once.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rbuild::store::{Digest, Store, StoreError};
use sha2::{Digest as _, Sha256};

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    (dir, store)
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn tmp_entries(store: &Store) -> Vec<PathBuf> {
    entries(&store.root().join("tmp"))
}

fn blob_files(root: &Path) -> Vec<PathBuf> {
    entries(&root.join("blobs/sha256"))
}

/// Re-run this test binary, running only the helper test `name`.
fn spawn_child(name: &str, var: &str, root: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(var, root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, child: &mut Child, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited ({status}) before {what}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

// ---- blobs ----

#[test]
fn blob_round_trip_and_digest_is_sha256_of_content() {
    let (_dir, store) = new_store();
    let d = store.put_blob(b"hello world").unwrap();
    assert_eq!(
        d.to_string(),
        "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(d.hex(), hex::encode(Sha256::digest(b"hello world")));
    assert!(store.has_blob(&d));
    assert_eq!(store.read_blob(&d).unwrap(), b"hello world");
    assert_eq!(fs::read(store.blob_path(&d)).unwrap(), b"hello world");
    assert_eq!(
        store.blob_path(&d),
        store.root().join("blobs/sha256").join(d.hex())
    );
    let mut text = String::new();
    store
        .open_blob(&d)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "hello world");
    store.verify_blob(&d).unwrap();
    assert_eq!(store.blob_size(&d).unwrap(), 11);
    assert_eq!(store.blobs().unwrap(), vec![d]);
}

#[test]
fn same_content_twice_is_one_file() {
    let (_dir, store) = new_store();
    let a = store.put_blob(b"same").unwrap();
    let b = store.put_blob(b"same").unwrap();
    assert_eq!(a, b);
    assert_eq!(blob_files(store.root()).len(), 1);
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn blob_writer_hashes_streamed_chunks() {
    let (_dir, store) = new_store();
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut writer = store.blob_writer().unwrap();
    writer.write_all(&content[..10]).unwrap();
    writer.write_all(&content[10..400_000]).unwrap(); // larger than the buffer
    std::io::copy(&mut &content[400_000..], &mut writer).unwrap();
    assert_eq!(writer.size(), content.len() as u64);
    let (d, size) = writer.commit().unwrap();
    assert_eq!(size, content.len() as u64);
    assert_eq!(d, Digest::of(&content));
    assert_eq!(store.read_blob(&d).unwrap(), content);
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn commit_expect_with_wrong_digest_publishes_nothing() {
    let (_dir, store) = new_store();
    let wrong = Digest::of(b"something else");
    let mut writer = store.blob_writer().unwrap();
    writer.write_all(b"actual content").unwrap();
    let err = writer.commit_expect(&wrong).unwrap_err();
    let actual = Digest::of(b"actual content");
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&wrong.to_string()), "{message}");
    assert!(message.contains(&actual.to_string()), "{message}");
    assert!(!store.has_blob(&actual) && !store.has_blob(&wrong));
    assert!(blob_files(store.root()).is_empty());
    assert!(tmp_entries(&store).is_empty());

    let mut writer = store.blob_writer().unwrap();
    writer.write_all(b"actual content").unwrap();
    assert_eq!(writer.commit_expect(&actual).unwrap(), 14);
    assert!(store.has_blob(&actual));
}

#[test]
fn dropped_writer_leaves_nothing() {
    let (_dir, store) = new_store();
    let mut writer = store.blob_writer().unwrap();
    writer.write_all(&[7u8; 300_000]).unwrap();
    assert_eq!(tmp_entries(&store).len(), 1);
    drop(writer);
    assert!(tmp_entries(&store).is_empty());
    assert!(blob_files(store.root()).is_empty());
}

#[test]
fn corrupt_and_missing_blobs_are_reported() {
    let (_dir, store) = new_store();
    let d = store.put_blob(b"original").unwrap();
    fs::write(store.blob_path(&d), b"tampered").unwrap();
    let err = store.read_blob(&d).unwrap_err();
    assert!(matches!(err, StoreError::CorruptBlob { .. }), "{err:?}");
    assert!(err.to_string().contains(&d.to_string()));
    assert!(matches!(
        store.verify_blob(&d),
        Err(StoreError::CorruptBlob { actual, .. }) if actual == Digest::of(b"tampered")
    ));
    assert!(store.remove_blob(&d).unwrap());
    assert!(!store.remove_blob(&d).unwrap());
    let err = store.read_blob(&d).unwrap_err();
    assert!(matches!(err, StoreError::BlobNotFound { .. }) && err.is_not_found());
    assert!(store.open_blob(&d).is_err() && store.verify_blob(&d).is_err());
}

#[test]
fn digest_parse_errors_name_the_bad_text() {
    let good = "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    assert_eq!(good.parse::<Digest>().unwrap().to_string(), good);
    let bad = [
        good.to_uppercase().replace("SHA256", "sha256"),
        "sha256:b94d27b9934d3e08".to_string(),
        good.replace("sha256", "sha512"),
        "md5:d41d8cd98f00b204e9800998ecf8427e".to_string(),
        good.trim_start_matches("sha256:").to_string(),
        format!("{good}0"),
        good.replace('b', "g"),
        String::new(),
    ];
    for text in bad {
        let err = text.parse::<Digest>().unwrap_err();
        assert_eq!(err.text, text);
        assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
    }
    let json: Result<Digest, _> = serde_json::from_str("\"sha256:ABC\"");
    assert!(json.unwrap_err().to_string().contains("sha256:ABC"));
}

// ---- tags ----

#[test]
fn tags_set_get_overwrite_remove_list() {
    let (_dir, store) = new_store();
    let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
    assert_eq!(store.tag("app:latest").unwrap(), None);
    store.set_tag("app:latest", &a).unwrap();
    store.set_tag("app:1.0", &a).unwrap();
    assert_eq!(store.tag("app:latest").unwrap(), Some(a));
    store.set_tag("app:latest", &b).unwrap();
    assert_eq!(store.tag("app:latest").unwrap(), Some(b));
    assert_eq!(
        store.tags().unwrap(),
        vec![("app:1.0".to_string(), a), ("app:latest".to_string(), b)]
    );
    assert!(store.remove_tag("app:1.0").unwrap());
    assert!(!store.remove_tag("app:1.0").unwrap());
    assert_eq!(store.tag("app:1.0").unwrap(), None);
    assert_eq!(store.tags().unwrap().len(), 1);
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn references_with_slashes_colons_and_at_signs_stay_inside_tags() {
    let (dir, store) = new_store();
    let d = Digest::of(b"m");
    let refs = [
        "registry.example.com:5000/team/app:v1",
        "docker.io/library/alpine@sha256:0123",
        "../../../escape",
        "..",
        "a/../../b",
        "",
    ];
    for r in refs {
        store.set_tag(r, &d).unwrap();
        assert_eq!(store.tag(r).unwrap(), Some(d), "{r}");
    }
    let files = entries(&store.root().join("tags"));
    assert_eq!(files.len(), refs.len());
    assert!(files.iter().all(|f| f.is_file()));
    assert_eq!(entries(dir.path()), vec![store.root().to_path_buf()]);
    let mut expected: Vec<_> = refs.iter().map(|r| (r.to_string(), d)).collect();
    expected.sort();
    assert_eq!(store.tags().unwrap(), expected);
    let long = "x/".repeat(200);
    assert!(matches!(
        store.set_tag(&long, &d),
        Err(StoreError::NameTooLong { .. })
    ));
}

#[test]
fn concurrent_tag_writers_never_produce_a_corrupt_read() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);
    let digests: Arc<Vec<Digest>> = Arc::new((0..4u8).map(|i| Digest::of(&[i])).collect());
    store.set_tag("shared:tag", &digests[0]).unwrap();
    let mut handles = Vec::new();
    for w in 0..4 {
        let (store, digests) = (store.clone(), digests.clone());
        handles.push(thread::spawn(move || {
            for _ in 0..200 {
                store.set_tag("shared:tag", &digests[w]).unwrap();
            }
        }));
    }
    for _ in 0..2 {
        let (store, digests) = (store.clone(), digests.clone());
        handles.push(thread::spawn(move || {
            for _ in 0..500 {
                let got = store.tag("shared:tag").unwrap().expect("tag vanished");
                assert!(digests.contains(&got));
                assert_eq!(store.tags().unwrap().len(), 1);
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(tmp_entries(&store).is_empty());
}

// ---- records, snapshots, temp dirs, locks, version ----

#[test]
fn records_round_trip_by_namespace() {
    let (_dir, store) = new_store();
    let key = "sha256:abc/../../x";
    assert_eq!(store.record("cache", key).unwrap(), None);
    store.put_record("cache", key, b"one").unwrap();
    store.put_record("cache", key, b"two").unwrap();
    store.put_record("layers", key, b"other").unwrap();
    assert_eq!(store.record("cache", key).unwrap().unwrap(), b"two");
    assert_eq!(store.record("layers", key).unwrap().unwrap(), b"other");
    assert_eq!(store.record_keys("cache").unwrap(), vec![key.to_string()]);
    assert!(store.remove_record("cache", key).unwrap());
    assert!(!store.remove_record("cache", key).unwrap());
    assert_eq!(store.record("cache", key).unwrap(), None);
    assert!(store.record_keys("never-used").unwrap().is_empty());

    let value = serde_json::json!({"digest": Digest::of(b"x"), "size": 3});
    store.put_record_json("cache", "k", &value).unwrap();
    let back: serde_json::Value = store.record_json("cache", "k").unwrap().unwrap();
    assert_eq!(back, value);
    for bad in ["../x", "a/b", "", "UPPER"] {
        assert!(matches!(
            store.put_record(bad, "k", b""),
            Err(StoreError::InvalidNamespace { .. })
        ));
    }
}

#[test]
fn commit_snapshot_is_atomic_and_idempotent() {
    let (_dir, store) = new_store();
    let first = store.temp_dir().unwrap();
    fs::create_dir(first.path().join("etc")).unwrap();
    fs::write(first.path().join("etc/hostname"), b"first").unwrap();
    assert!(!store.has_snapshot("sha256:layer"));
    let path = store.commit_snapshot(first.path(), "sha256:layer").unwrap();
    assert_eq!(path, store.snapshot_path("sha256:layer"));
    assert_eq!(fs::read(path.join("etc/hostname")).unwrap(), b"first");
    assert!(!first.path().exists());
    drop(first);

    let second = store.temp_dir().unwrap();
    fs::write(second.path().join("other"), b"second").unwrap();
    let again = store
        .commit_snapshot(second.path(), "sha256:layer")
        .unwrap();
    assert_eq!(again, path);
    assert!(!second.path().exists(), "the losing copy is discarded");
    assert_eq!(fs::read(path.join("etc/hostname")).unwrap(), b"first");
    assert!(!path.join("other").exists());
    drop(second);

    assert_eq!(store.snapshots().unwrap(), vec!["sha256:layer".to_string()]);
    assert!(path.parent().unwrap().ends_with("snapshots"));
    assert!(store.remove_snapshot("sha256:layer").unwrap());
    assert!(!store.remove_snapshot("sha256:layer").unwrap());
    assert!(!path.exists() && store.snapshots().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn temp_dir_is_removed_on_drop_even_with_read_only_dirs() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = new_store();
    let temp = store.temp_dir().unwrap();
    let path = temp.path().to_path_buf();
    assert!(path.starts_with(store.root().join("tmp")));
    fs::create_dir(path.join("ro")).unwrap();
    fs::write(path.join("ro/file"), b"x").unwrap();
    fs::set_permissions(path.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    drop(temp);
    assert!(!path.exists());
    let temp = store.temp_dir().unwrap();
    let path = temp.path().to_path_buf();
    temp.close().unwrap();
    assert!(!path.exists());
}

#[test]
fn shared_locks_coexist_and_exclusive_waits_for_them() {
    let (_dir, store) = new_store();
    let a = store.lock_shared().unwrap();
    let b = store
        .try_lock_shared()
        .unwrap()
        .expect("shared locks coexist");
    assert!(store.try_lock_exclusive().unwrap().is_none());
    drop(a);
    assert!(store.try_lock_exclusive().unwrap().is_none());
    drop(b);
    let ex = store.lock_exclusive().unwrap();
    assert!(ex.is_exclusive());
    assert!(store.try_lock_shared().unwrap().is_none());
    drop(ex);
    assert!(store.try_lock_shared().unwrap().is_some());
}

#[test]
fn version_file_is_created_and_checked() {
    let (_dir, store) = new_store();
    let version = store.root().join("VERSION");
    assert_eq!(fs::read_to_string(&version).unwrap().trim(), "1");
    for sub in ["blobs/sha256", "tags", "records", "snapshots", "tmp"] {
        assert!(store.root().join(sub).is_dir(), "{sub}");
    }
    Store::open(store.root()).unwrap();
    fs::write(&version, "99\n").unwrap();
    let err = Store::open(store.root()).unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedVersion { ref found, .. } if found == "99"));
}

#[test]
fn default_root_honours_rbuild_root() {
    // In a child process: changing the environment of this multi-threaded
    // test process would race with other tests.
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("custom");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_print_default_root", "--nocapture"])
        .env("RBUILD_STORE_CHILD_ROOT", "1")
        .env("RBUILD_ROOT", &want)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("ROOT={}\n", want.display())),
        "{stdout}"
    );
}

#[test]
fn child_print_default_root() {
    if std::env::var_os("RBUILD_STORE_CHILD_ROOT").is_some() {
        println!("ROOT={}", rbuild::store::default_root().display());
    }
}

// ---- crash safety ----

/// Helper: write blobs, tags and records in a loop until killed.
#[test]
fn child_crash_writer() {
    let Some(root) = std::env::var_os("RBUILD_STORE_CHILD_CRASH") else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    let start = Instant::now();
    for i in 0u64.. {
        assert!(start.elapsed() < Duration::from_secs(120), "never killed");
        let mut writer = store.blob_writer().unwrap();
        for chunk in 0..64u64 {
            writer.write_all(&[(i + chunk) as u8; 16 * 1024]).unwrap();
            writer.write_all(&i.to_le_bytes()).unwrap();
            if chunk % 16 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        let (d, _) = writer.commit().unwrap();
        store.set_tag(&format!("child:{}", i % 3), &d).unwrap();
        store
            .put_record("cache", &format!("k{}", i % 3), d.hex().as_bytes())
            .unwrap();
    }
}

/// Every file in blobs/ hashes to its name (checked without the store API).
fn assert_all_blobs_intact(root: &Path) -> usize {
    let files = blob_files(root);
    for f in &files {
        let bytes = fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            name,
            "partial blob {f:?}"
        );
    }
    files.len()
}

#[test]
fn sigkill_mid_write_leaves_no_partial_blob_and_open_cleans_up() {
    for _attempt in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        Store::open(&root).unwrap();
        let mut child = spawn_child("child_crash_writer", "RBUILD_STORE_CHILD_CRASH", &root);
        wait_for("three blobs", &mut child, || blob_files(&root).len() >= 3);
        let has_partial_blob = || {
            entries(&root.join("tmp")).iter().any(|p| {
                p.extension().is_some_and(|e| e == "blob")
                    && fs::metadata(p).is_ok_and(|m| m.len() > 0)
            })
        };
        wait_for("a blob in progress", &mut child, has_partial_blob);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let stale = entries(&root.join("tmp"));
        if stale.is_empty() {
            continue; // the write finished between the check and the kill
        }
        let published = assert_all_blobs_intact(&root);

        let store = Store::open(&root).unwrap();
        assert!(
            tmp_entries(&store).is_empty(),
            "stale {stale:?} not cleaned"
        );
        assert_eq!(assert_all_blobs_intact(&root), published);
        for d in store.blobs().unwrap() {
            store.verify_blob(&d).unwrap();
        }
        for (_, d) in store.tags().unwrap() {
            store.verify_blob(&d).unwrap();
        }
        for key in store.record_keys("cache").unwrap() {
            let hex = store.record("cache", &key).unwrap().unwrap();
            let d = Digest::from_hex(std::str::from_utf8(&hex).unwrap()).unwrap();
            assert!(store.has_blob(&d));
        }
        let d = store.put_blob(b"after the crash").unwrap();
        assert_eq!(store.read_blob(&d).unwrap(), b"after the crash");
        return;
    }
    panic!("never caught the child in the middle of a write");
}

/// Helper: hold a blob write and a temp dir open until stdin closes.
#[test]
fn child_hold_temp_entries() {
    let Some(root) = std::env::var_os("RBUILD_STORE_CHILD_HOLD") else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    let mut writer = store.blob_writer().unwrap();
    writer.write_all(b"still writing").unwrap();
    writer.flush().unwrap();
    let temp = store.temp_dir().unwrap();
    fs::write(temp.path().join("file"), b"x").unwrap();
    println!("READY");
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

#[test]
fn open_never_deletes_a_live_process_temp_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    Store::open(&root).unwrap();
    let mut child = spawn_child("child_hold_temp_entries", "RBUILD_STORE_CHILD_HOLD", &root);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        // libtest may print "test name ... " on the same line first.
        lines.any(|l| l.unwrap().ends_with("READY")),
        "child did not get ready"
    );
    let held = entries(&root.join("tmp"));
    assert_eq!(held.len(), 2, "{held:?}");

    let store = Store::open(&root).unwrap();
    assert_eq!(store.clean_temp().unwrap(), 0);
    assert_eq!(
        tmp_entries(&store),
        held,
        "a live process's entries were deleted"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    Store::open(&root).unwrap();
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn open_keeps_own_in_progress_write() {
    let (_dir, store) = new_store();
    let mut writer = store.blob_writer().unwrap();
    writer.write_all(b"part one").unwrap();
    let other = Store::open(store.root()).unwrap();
    assert_eq!(tmp_entries(&other).len(), 1);
    writer.write_all(b", part two").unwrap();
    let (d, _) = writer.commit().unwrap();
    assert_eq!(other.read_blob(&d).unwrap(), b"part one, part two");
}

/// A pid above the kernel's limit never belongs to a live process.
const DEAD_PID: u32 = 4_194_304;

#[test]
fn stale_entries_of_dead_processes_are_removed_unless_locked() {
    let (_dir, store) = new_store();
    let tmp = store.root().join("tmp");
    let stale_file = tmp.join(format!("{DEAD_PID}-0-0.blob"));
    fs::write(&stale_file, b"partial").unwrap();
    let stale_dir = tmp.join(format!("{DEAD_PID}-1-0.dir"));
    fs::create_dir_all(stale_dir.join("sub")).unwrap();
    // Dead pid but a held lock: a writer in another pid namespace.
    let locked = tmp.join(format!("{DEAD_PID}-2-0.blob"));
    let handle = fs::File::create(&locked).unwrap();
    handle.lock().unwrap();
    let foreign = tmp.join("not-ours");
    fs::write(&foreign, b"?").unwrap();

    Store::open(store.root()).unwrap();
    assert_eq!(tmp_entries(&store), vec![locked.clone(), foreign]);
    drop(handle);
    assert_eq!(store.clean_temp().unwrap(), 1);
    assert!(!locked.exists());
}
