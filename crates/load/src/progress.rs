//! A progress bar on stderr while the injector runs: requests started out of the
//! total, ok, failed, in flight and the rate of the last tick. Drawn only when
//! stderr is a terminal, so logs and CI output stay clean; stdout is never touched
//! (it carries the summary).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::injector::Counters;

/// A running progress bar; [`Progress::finish`] removes it.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar fed from `counters` every 100 ms, if stderr is a terminal;
    /// otherwise a silent stand-in. Call from within a tokio runtime.
    pub fn start(counters: Arc<Counters>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self {
                bar: ProgressBar::hidden(),
                task: None,
            };
        }
        let total = counters.snapshot().total;
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let (mut last_started, mut last_at) = (0, Instant::now());
            loop {
                tick.tick().await;
                let s = counters.snapshot();
                let now = Instant::now();
                let dt = now.duration_since(last_at).as_secs_f64();
                let rate = if dt > 0.0 {
                    s.started.saturating_sub(last_started) as f64 / dt
                } else {
                    0.0
                };
                (last_started, last_at) = (s.started, now);
                shown.set_position(s.started);
                shown.set_message(format!(
                    "ok {} failed {} in flight {} {rate:.0}/s",
                    s.ok, s.failed, s.in_flight
                ));
            }
        });
        Self {
            bar,
            task: Some(task),
        }
    }

    /// Stops updating and clears the bar.
    pub fn finish(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
