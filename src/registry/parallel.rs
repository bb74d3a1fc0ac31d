//! Blob transfers several at once: a few worker threads take the next item
//! until none is left; the first error stops new items from starting and is
//! what the caller gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::error::RegistryError;

/// Transfers running at once (pulls and pushes alike).
pub const PARALLEL_BLOBS: usize = 4;

pub fn for_each<T: Sync>(
    items: &[T],
    work: impl Fn(&T) -> Result<(), RegistryError> + Sync,
) -> Result<(), RegistryError> {
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_BLOBS.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || failed.lock().expect("failed").is_some() {
                    return;
                }
                if let Err(e) = work(&items[i]) {
                    failed.lock().expect("failed").get_or_insert(e);
                }
            });
        }
    });
    match failed.into_inner().expect("failed") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
