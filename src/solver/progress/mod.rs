//! Build progress on standard error, in four modes:
//!
//! - `plain`: BuildKit's style, `#N [stage i/n] INSTRUCTION`, the step's
//!   output as `#N 0.123 text`, then `#N CACHED` or `#N DONE 0.1s`; never
//!   truncated, so a CI log keeps everything;
//! - `tty` ([`tty`]): one live line per running step with a timer and the
//!   last lines of its output, finished steps kept above, a summary at the end;
//! - `rawjson` ([`json`]): one JSON object per event, for CI tools;
//! - `quiet`: nothing (the CLI prints only the image ID).
//!
//! The CLI picks `tty` for `auto` when standard error is a terminal.

mod json;
mod log;
mod tty;

use super::options::ProgressMode;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub struct Progress {
    mode: ProgressMode,
    next: AtomicUsize,
    began: Instant,
    tty: Option<tty::TtyDisplay>,
    ran: AtomicUsize,
    cached: AtomicUsize,
    /// Every step's full output, in the store.
    logs: Option<log::StepLogs>,
}

/// A started step.
pub struct StepHandle {
    pub(crate) id: usize,
    pub(crate) started: Instant,
}

impl Progress {
    /// Progress in `mode`; with `logs` (the store's `logs/`), each step's
    /// output is also written there.
    pub fn new(mode: ProgressMode, logs: Option<&std::path::Path>) -> Self {
        Progress {
            mode,
            next: AtomicUsize::new(1),
            began: Instant::now(),
            tty: (mode == ProgressMode::Tty).then(tty::TtyDisplay::new),
            ran: AtomicUsize::new(0),
            cached: AtomicUsize::new(0),
            logs: logs.and_then(log::StepLogs::create),
        }
    }

    /// Where a step's full output is kept, if anywhere.
    pub fn log_path(&self, step: &StepHandle) -> Option<std::path::PathBuf> {
        self.logs.as_ref().map(|l| l.path(step.id))
    }

    fn end_log(&self, id: usize) {
        if let Some(logs) = &self.logs {
            logs.end(id);
        }
    }

    fn since_start(&self) -> f64 {
        self.began.elapsed().as_secs_f64()
    }

    /// A line that belongs to no step (registry transfers, cache notes).
    pub(crate) fn line(&self, text: &str) {
        match self.mode {
            ProgressMode::Plain => plain(text),
            ProgressMode::Tty => self.tty().println(text),
            ProgressMode::RawJson => json::log(self.since_start(), text),
            ProgressMode::Quiet => {}
        }
    }

    fn tty(&self) -> &tty::TtyDisplay {
        self.tty.as_ref().expect("tty mode has a display")
    }

    pub fn start(&self, label: &str) -> StepHandle {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(logs) = &self.logs {
            logs.start(id, label);
        }
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{id} {label}")),
            ProgressMode::Tty => self.tty().start(id, label),
            ProgressMode::RawJson => json::start(self.since_start(), id, label),
            ProgressMode::Quiet => {}
        }
        StepHandle {
            id,
            started: Instant::now(),
        }
    }

    /// A line of the step's own output, with seconds since it started.
    pub fn output(&self, step: &StepHandle, secs: f64, text: &str) {
        if let Some(logs) = &self.logs {
            logs.line(step.id, text);
        }
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{} {secs:.3} {text}", step.id)),
            ProgressMode::Tty => self.tty().output(step.id, text),
            ProgressMode::RawJson => json::output(self.since_start(), step.id, text),
            ProgressMode::Quiet => {}
        }
    }

    /// Why a step is not taken from the cache.
    pub fn miss(&self, step: &StepHandle, reason: &str) {
        if let Some(logs) = &self.logs {
            logs.line(step.id, &format!("# cache miss: {reason}"));
        }
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{} cache miss: {reason}", step.id)),
            ProgressMode::Tty => self.tty().output(step.id, &format!("cache miss: {reason}")),
            ProgressMode::RawJson => json::miss(self.since_start(), step.id, reason),
            ProgressMode::Quiet => {}
        }
    }

    pub fn cached(&self, step: StepHandle) {
        self.end_log(step.id);
        self.cached.fetch_add(1, Ordering::Relaxed);
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{} CACHED", step.id)),
            ProgressMode::Tty => self.tty().end(step.id, "CACHED"),
            ProgressMode::RawJson => json::end(self.since_start(), step.id, "cached", 0.0),
            ProgressMode::Quiet => {}
        }
    }

    pub fn done(&self, step: StepHandle) {
        self.end_log(step.id);
        self.ran.fetch_add(1, Ordering::Relaxed);
        let secs = step.started.elapsed().as_secs_f64();
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{} DONE {secs:.1}s", step.id)),
            ProgressMode::Tty => self.tty().end(step.id, &format!("DONE {secs:.1}s")),
            ProgressMode::RawJson => json::end(self.since_start(), step.id, "done", secs),
            ProgressMode::Quiet => {}
        }
    }

    pub fn failed(&self, step: StepHandle) {
        self.end_log(step.id);
        let secs = step.started.elapsed().as_secs_f64();
        match self.mode {
            ProgressMode::Plain => plain(&format!("#{} ERROR {secs:.1}s", step.id)),
            ProgressMode::Tty => self.tty().end(step.id, &format!("ERROR {secs:.1}s")),
            ProgressMode::RawJson => json::end(self.since_start(), step.id, "error", secs),
            ProgressMode::Quiet => {}
        }
    }

    /// The end of the build: counts and time (the live display goes away).
    pub fn finish(&self) {
        let (ran, cached) = (
            self.ran.load(Ordering::Relaxed),
            self.cached.load(Ordering::Relaxed),
        );
        let secs = self.since_start();
        match self.mode {
            ProgressMode::Tty => self.tty().finish(&format!(
                "{} steps in {secs:.1}s: {ran} run, {cached} cached",
                ran + cached
            )),
            ProgressMode::RawJson => json::finish(secs, ran, cached),
            ProgressMode::Plain | ProgressMode::Quiet => {}
        }
    }
}

fn plain(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
