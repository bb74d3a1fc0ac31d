//! `--progress tty`: a live display drawn with `indicatif` (the maintained
//! crate for terminal progress; it handles redraws, terminal width and
//! cursor control). A running step is a spinner line with its timer and up
//! to [`TAIL`] of its last output lines under it; a finished step becomes a
//! permanent line above the live ones. No colours are used, so `NO_COLOR`
//! has nothing to turn off.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Output lines shown under a running step.
const TAIL: usize = 5;

pub struct TtyDisplay {
    bars: MultiProgress,
    running: Mutex<HashMap<usize, Running>>,
}

struct Running {
    label: String,
    line: ProgressBar,
    tail: Vec<ProgressBar>,
    lines: VecDeque<String>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("the templates here are valid")
}

impl TtyDisplay {
    pub fn new() -> TtyDisplay {
        TtyDisplay {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn start(&self, id: usize, label: &str) {
        let line = self.bars.add(ProgressBar::new_spinner());
        line.set_style(style("{spinner} {wide_msg} {elapsed:>4}"));
        line.set_message(format!("#{id} {label}"));
        line.enable_steady_tick(Duration::from_millis(100));
        let step = Running {
            label: label.to_string(),
            line,
            tail: Vec::new(),
            lines: VecDeque::new(),
        };
        self.running.lock().expect("running").insert(id, step);
    }

    pub fn output(&self, id: usize, text: &str) {
        let mut running = self.running.lock().expect("running");
        let Some(step) = running.get_mut(&id) else {
            return;
        };
        step.lines.push_back(text.to_string());
        if step.lines.len() > TAIL {
            step.lines.pop_front();
        }
        while step.tail.len() < step.lines.len() {
            let after = step.tail.last().unwrap_or(&step.line).clone();
            let bar = self.bars.insert_after(&after, ProgressBar::new_spinner());
            bar.set_style(style("  {wide_msg}"));
            step.tail.push(bar);
        }
        for (bar, line) in step.tail.iter().zip(&step.lines) {
            bar.set_message(format!("│ {line}"));
        }
    }

    /// The step ends: its live lines go, a permanent one takes their place.
    pub fn end(&self, id: usize, status: &str) {
        let step = self.running.lock().expect("running").remove(&id);
        let Some(step) = step else {
            return;
        };
        for bar in step.tail.iter().chain([&step.line]) {
            bar.finish_and_clear();
            self.bars.remove(bar);
        }
        let mut text = format!("#{id} {} {status}", step.label);
        if status.starts_with("ERROR") {
            for line in &step.lines {
                text.push_str(&format!("\n#{id}   {line}"));
            }
        }
        self.println(&text);
    }

    pub fn println(&self, text: &str) {
        if self.bars.println(text).is_err() {
            eprintln!("{text}");
        }
    }

    pub fn finish(&self, summary: &str) {
        let _ = self.bars.clear();
        eprintln!("{summary}");
    }
}
