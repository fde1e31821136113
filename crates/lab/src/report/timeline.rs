//! The SVG timelines of a trial: every request as a dot in the lane of the backend
//! that answered (or of failures), the injected event and the markers of the
//! watcher, the route and the restarts on one clock.

use std::fmt::Write as _;

use super::html::esc;
use crate::trial::Trial;

/// One trial's timelines: the whole trial, and a zoom on the failover (the event to
/// a little after the first success from ws2), where single requests show.
pub fn svg(t: &Trial) -> String {
    let mut out = panel(t, t.start_us, t.end_us, "whole trial");
    if let Some((from, to)) = zoom(t) {
        out.push_str(&panel(t, from, to, "the failover, zoomed"));
    }
    out
}

/// The zoomed panel's span, for a trial with an event and a failover: from a little
/// before the event to a little after the failover settled, that is the first success
/// from the new backend and the watcher's and the route server's markers up to it
/// (with a little slack), none after ws1 is back (the failback's own move and route
/// are the whole-trial panel's).
pub(crate) fn zoom(t: &Trial) -> Option<(u64, u64)> {
    if t.event_us == 0 {
        return None;
    }
    let failover_us = (t.failover_ms? * 1000.0).max(0.0) as u64;
    let first_ok = t.event_us + failover_us;
    let back = t
        .markers
        .iter()
        .filter(|m| m.kind == "back" && m.ts_us > t.event_us)
        .map(|m| m.ts_us)
        .min()
        .unwrap_or(u64::MAX);
    let limit = (first_ok + (failover_us / 4).max(5_000))
        .min(back)
        .min(t.event_us + 1_000_000);
    let settled = t
        .markers
        .iter()
        .filter(|m| m.ts_us >= t.event_us && m.ts_us <= limit)
        .filter(|m| matches!(m.kind, "detect" | "move" | "update" | "programmed"))
        .map(|m| m.ts_us)
        .chain(std::iter::once(first_ok))
        .max()
        .unwrap_or(first_ok);
    let span = (settled - t.event_us).max(10_000);
    Some((t.event_us.saturating_sub(span / 3), settled + span / 3))
}

/// The time axis's ticks for `[lo, hi]` (ms from the event): a round step (1, 2 or 5
/// × 10ⁿ ms, at most 12 ticks), counted from 0; each with its label.
pub(crate) fn ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return Vec::new();
    }
    let raw = span / 12.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * p);
    // Seconds once the step is a second or more; as many decimals as the step needs.
    let (unit, scale) = if step >= 1000.0 {
        ("s", 1000.0)
    } else {
        ("ms", 1.0)
    };
    let decimals = (-(step / scale).log10().floor()).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            let label = match k {
                0 => "0".to_string(),
                _ => format!(
                    "{}{:.*} {unit}",
                    if k > 0 { "+" } else { "\u{2212}" },
                    decimals,
                    (v / scale).abs()
                ),
            };
            (v, label)
        })
        .collect()
}

/// A timeline of `[t0, t1]`: time across, a lane per backend and one for failures;
/// one dot per lane and pixel column (so the page stays small), each run of failures
/// also a bar; markers as lines under the dots, with their labels on as many rows
/// below as they need not to overlap (each also a tooltip).
fn panel(t: &Trial, t0: u64, t1: u64, title: &str) -> String {
    const W: f64 = 1100.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 20.0;
    /// The width of a character at font-size 10, roughly.
    const CHAR: f64 = 6.0;
    /// A dot's radius.
    const R: f64 = 2.2;
    let plot = W - LEFT - RIGHT;
    let t1 = t1.max(t0 + 1);
    // Times are in ms from the event (from the panel's start without one).
    let origin = if t.event_us > 0 { t.event_us } else { t0 };
    let rel = |us: u64| (us as f64 - origin as f64) / 1000.0;
    let (lo, hi) = (rel(t0), rel(t1));
    let xm = |ms: f64| LEFT + ((ms - lo) / (hi - lo)).clamp(0.0, 1.0) * plot;
    let x = |us: u64| xm(rel(us));
    let lanes = [("ws1", 40.0, "#1f77b4"), ("ws2", 80.0, "#2ca02c")];
    let fail_y = 120.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<text x=\"{LEFT}\" y=\"14\" font-size=\"11\" fill=\"#666\">{}</text>",
        esc(title)
    );
    for (name, y, _) in lanes {
        let _ = write!(
            s,
            "<text x=\"5\" y=\"{}\" font-size=\"12\">{name}</text>",
            y + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"5\" y=\"{}\" font-size=\"12\" fill=\"#d62728\">failed</text>",
        fail_y + 4.0
    );
    // Time axis: round steps from the event, each label kept inside the picture.
    for (v, label) in ticks(lo, hi) {
        let xx = xm(v);
        // Generous: a label must not be cut off at either end.
        let half = label.chars().count() as f64 * CHAR / 2.0;
        let anchor = if xx + half > W - 4.0 {
            "end"
        } else if xx - half < 4.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"135\" y2=\"139\" stroke=\"#888\"/>\
             <text x=\"{xx:.1}\" y=\"148\" font-size=\"9\" fill=\"#888\" text-anchor=\"{anchor}\">{label}</text>",
        );
    }
    // Markers: the lines first, under the dots; the labels on rows below.
    let mut markers: Vec<_> = t
        .markers
        .iter()
        .filter(|m| m.ts_us >= t0 && m.ts_us <= t1)
        .collect();
    markers.sort_by_key(|m| m.ts_us);
    let mut row_end: Vec<f64> = Vec::new();
    let mut labels = String::new();
    for mk in markers {
        let colour = match mk.kind {
            "event" => "#000",
            "detect" | "move" | "update" => "#ff7f0e",
            "programmed" => "#9467bd",
            _ => "#17becf",
        };
        let mx = x(mk.ts_us);
        let r = rel(mk.ts_us);
        let _ = write!(
            s,
            "<line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"20\" y2=\"135\" stroke=\"{colour}\" \
             stroke-width=\"1.2\" stroke-dasharray=\"{}\"><title>{} at {r:+.2} ms</title></line>",
            if mk.kind == "event" { "none" } else { "4,2" },
            esc(&mk.label),
        );
        let label = format!("{} ({r:+.1} ms)", mk.label);
        let width = label.chars().count() as f64 * CHAR;
        let (tx, anchor, start) = if mx + width <= W - 2.0 {
            (mx, "start", mx)
        } else if mx - width >= 2.0 {
            (mx, "end", mx - width)
        } else {
            (2.0, "start", 2.0)
        };
        let row = match row_end.iter().position(|&e| e < start - 4.0) {
            Some(row) => row,
            None => {
                row_end.push(f64::MIN);
                row_end.len() - 1
            }
        };
        if let Some(e) = row_end.get_mut(row) {
            *e = start + width;
        }
        let _ = write!(
            labels,
            "<text x=\"{tx:.1}\" y=\"{}\" font-size=\"10\" fill=\"{colour}\" text-anchor=\"{anchor}\">{}</text>",
            163.0 + row as f64 * 12.0,
            esc(&label)
        );
    }
    // The requests, in the order they were sent.
    let mut records: Vec<_> = t
        .records
        .iter()
        .filter(|r| r.sent_us >= t0 && r.sent_us <= t1)
        .collect();
    records.sort_by_key(|r| r.sent_us);
    // Each run of consecutive failures: a bar from its first dot to its last where
    // the dots touch (at least a dot wide, so a short outage shows at any scale), a
    // faint band joining them where single requests show.
    let mut run: Option<(u64, u64, usize)> = None;
    let mut runs = Vec::new();
    for r in &records {
        if r.is_success() {
            runs.extend(run.take());
        } else {
            run = Some(match run {
                Some((first, _, n)) => (first, r.sent_us, n + 1),
                None => (r.sent_us, r.sent_us, 1),
            });
        }
    }
    runs.extend(run);
    for (first, last, n) in runs {
        let (xa, xb) = (x(first), x(last));
        let tip = format!(
            "<title>{n} failed, {:+.2} to {:+.2} ms</title>",
            rel(first),
            rel(last)
        );
        if n == 1 || (xb - xa) / (n - 1) as f64 <= 2.0 * R {
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{R}\" \
                 fill=\"#d62728\">{tip}</rect>",
                xa.round() - R,
                fail_y - R,
                xb.round() - xa.round() + 2.0 * R,
                2.0 * R
            );
        } else {
            let _ = write!(
                s,
                "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"3\" fill=\"#d62728\" \
                 fill-opacity=\"0.25\">{tip}</rect>",
                fail_y - 1.5,
                xb - xa
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in records {
        let px = x(r.sent_us).round() as i64;
        let (lane, y, colour) = if r.is_success() {
            match lanes
                .iter()
                .find(|(n, _, _)| r.backend.as_deref() == Some(*n))
            {
                Some((n, y, c)) => (*n, *y, *c),
                None => ("other", 100.0, "#7f7f7f"),
            }
        } else {
            ("failed", fail_y, "#d62728")
        };
        if seen.insert((px, lane)) {
            let _ = write!(
                s,
                "<circle cx=\"{px}\" cy=\"{y}\" r=\"{R}\" fill=\"{colour}\"><title>{} {:+.2} ms</title></circle>",
                if lane == "failed" {
                    r.outcome.failure_name().unwrap_or_default()
                } else {
                    lane.to_string()
                },
                rel(r.sent_us)
            );
        }
    }
    s.push_str(&labels);
    let h = 165.0 + row_end.len().max(1) as f64 * 12.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" \
         viewBox=\"0 0 {W} {h}\" style=\"max-width:100%;height:auto\">{s}</svg>\n"
    )
}
