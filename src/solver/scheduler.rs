//! Runs the stages the target needs, each on a thread of its own as soon as
//! the stages it depends on are done (at most `--jobs` at once; by default
//! every ready stage starts, as in BuildKit). The first failure cancels the
//! others: no new step starts, a running RUN is killed, and that first error
//! is what the build reports.

use super::error::BuildError;
use super::graph::{dependencies, Base};
use super::Build;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

pub(crate) fn run_stages(
    b: &Build,
    bases: &[Base],
    needed: &[bool],
    target: usize,
) -> Result<(), BuildError> {
    let order: Vec<usize> = (0..=target).filter(|&i| needed[i]).collect();
    let deps: Vec<Vec<usize>> = (0..needed.len())
        .map(|i| dependencies(b.plan, bases, i))
        .collect();
    let jobs = b.opts.jobs.unwrap_or(usize::MAX).max(1);
    let (sender, results) = mpsc::channel();
    let mut started = vec![false; needed.len()];
    let mut done = vec![false; needed.len()];
    let mut running = 0;
    let mut first_error = None;
    std::thread::scope(|scope| {
        loop {
            if first_error.is_none() {
                for &i in &order {
                    let ready = deps[i].iter().all(|&d| d >= i || done[d]);
                    if !started[i] && ready && running < jobs {
                        started[i] = true;
                        running += 1;
                        let sender = sender.clone();
                        let base = &bases[i];
                        scope.spawn(move || {
                            let _ = sender.send((i, b.run_stage(i, base)));
                        });
                    }
                }
            }
            if running == 0 {
                break;
            }
            let (i, result) = results
                .recv()
                .expect("a stage thread reports before it ends");
            running -= 1;
            match result {
                Ok(state) => {
                    b.stages.lock().expect("stages")[i] = Some(state);
                    done[i] = true;
                }
                Err(e) => {
                    b.cancel.store(true, Ordering::SeqCst);
                    // The stages stopped by the cancel report `Cancelled`.
                    if first_error.is_none() || matches!(first_error, Some(BuildError::Cancelled)) {
                        first_error = Some(e);
                    }
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
