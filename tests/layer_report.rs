//! `rbuild inspect --layers` (issue 9): per layer its size, the step that
//! made it, and the bytes later layers overwrite or delete.

use std::process::Command;

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

#[test]
fn wasted_bytes_are_charged_to_the_layer_that_holds_them() {
    let Some(s) = Setup::new() else { return };
    let steps = "RUN mkdir /data && dd if=/dev/zero of=/data/big bs=1000 count=5000 2>/dev/null && dd if=/dev/zero of=/data/small bs=1000 count=2 2>/dev/null\n\
                 RUN rm /data/big && dd if=/dev/zero of=/data/small bs=1000 count=3 2>/dev/null\n";
    let dockerfile = format!("FROM localhost/busybox:latest\n{steps}");
    s.build_context("waste", &dockerfile, &[], &[], true);
    let out = Command::new(RBUILD)
        .args([
            "inspect",
            "--root",
            &s.store(),
            "--layers",
            "localhost/test/waste",
        ])
        .output()
        .expect("rbuild");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |n: &str| {
        text.lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("no layer {n}:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // 5 MB + 2 kB written, all of it replaced or deleted by layer 3.
    assert_eq!(row("2 ")[1..5], ["5.0", "MB", "5.0", "MB"], "{text}");
    assert!(row("2 ").contains(&"RUN"), "{text}");
    assert_eq!(row("3 ")[1..5], ["3.0", "kB", "0", "B"], "{text}");
    assert!(
        text.contains("5.0 MB (") && text.contains("would be saved"),
        "{text}"
    );
}
