//! Plain progress output in BuildKit's style: `#N [stage i/n] INSTRUCTION`,
//! then `#N CACHED` or `#N DONE 0.1s`, on standard error.

use super::options::ProgressMode;
use std::io::Write;
use std::time::Instant;

pub struct Progress {
    mode: ProgressMode,
    next: usize,
}

/// A started step.
pub struct StepHandle {
    pub(super) id: usize,
    pub(super) started: Instant,
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Self {
        Progress { mode, next: 1 }
    }

    pub(super) fn line(&self, text: &str) {
        if self.mode == ProgressMode::Plain {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        }
    }

    pub fn start(&mut self, label: &str) -> StepHandle {
        let id = self.next;
        self.next += 1;
        self.line(&format!("#{id} {label}"));
        StepHandle {
            id,
            started: Instant::now(),
        }
    }

    pub fn cached(&self, step: StepHandle) {
        self.line(&format!("#{} CACHED", step.id));
    }

    pub fn done(&self, step: StepHandle) {
        let secs = step.started.elapsed().as_secs_f64();
        self.line(&format!("#{} DONE {secs:.1}s", step.id));
    }
}
