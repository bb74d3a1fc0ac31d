//! `--progress rawjson`: one JSON object per line on standard error. Every
//! object has `event` and `time` (seconds since the build started):
//!
//! | event | fields |
//! |---|---|
//! | `step-start` | `step` (number), `name` (`[stage i/n] INSTRUCTION`) |
//! | `step-output` | `step`, `text` (one line of the step's output) |
//! | `step-miss` | `step`, `reason` (why the cache was not used) |
//! | `step-end` | `step`, `status` (`done`, `cached`, `error`), `duration` |
//! | `log` | `text` (registry transfers, cache notes) |
//! | `build-end` | `steps`, `ran`, `cached`, `duration` |

use serde_json::json;
use std::io::Write;

fn emit(value: serde_json::Value) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{value}");
}

fn rounded(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

pub fn start(time: f64, step: usize, name: &str) {
    emit(json!({"event": "step-start", "time": rounded(time), "step": step, "name": name}));
}

pub fn output(time: f64, step: usize, text: &str) {
    emit(json!({"event": "step-output", "time": rounded(time), "step": step, "text": text}));
}

pub fn end(time: f64, step: usize, status: &str, duration: f64) {
    emit(json!({
        "event": "step-end", "time": rounded(time), "step": step,
        "status": status, "duration": rounded(duration),
    }));
}

pub fn miss(time: f64, step: usize, reason: &str) {
    emit(json!({"event": "step-miss", "time": rounded(time), "step": step, "reason": reason}));
}

pub fn log(time: f64, text: &str) {
    emit(json!({"event": "log", "time": rounded(time), "text": text}));
}

pub fn finish(duration: f64, ran: usize, cached: usize) {
    emit(json!({
        "event": "build-end", "time": rounded(duration), "steps": ran + cached,
        "ran": ran, "cached": cached, "duration": rounded(duration),
    }));
}
