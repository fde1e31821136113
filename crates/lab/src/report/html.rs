//! `report.html`: one self-contained page, the run's table and, per trial, its
//! timelines ([`super::timeline`]).

use std::fmt::Write as _;

use super::timeline::svg;
use super::{Results, f, m};
use crate::scenarios::Scenario;

/// `s` escaped for HTML text and attributes.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page.
pub fn page(order: &[&Scenario], r: &Results) -> String {
    let mut h = String::new();
    h.push_str(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>hopwatch lab</title><style>\
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}\
.pass{color:#080;font-weight:bold}.fail{color:#c00;font-weight:bold}\
h3{margin-bottom:0.2em}.legend span{margin-right:1.5em}svg{background:#fcfcfc;border:1px solid #ddd}\
</style></head><body><h1>hopwatch lab</h1>",
    );
    let _ = write!(
        h,
        "<p>{} Load: {} requests/s, a new connection per request. Failback hold {} ms. Run \
         time {:.1} s. Overall: <span class=\"{}\">{}</span></p>",
        esc(&r.setup),
        r.rate,
        r.failback_hold_ms,
        r.run_time_s,
        if r.pass { "pass" } else { "fail" },
        if r.pass { "PASS" } else { "FAIL" }
    );
    h.push_str(
        "<table><tr><th>scenario</th><th>trials</th><th>failover ms p50/p90/max</th>\
         <th>failback ms p50/p90/max</th><th>failed p50/max</th><th>detect</th><th>decide</th>\
         <th>update</th><th>rs</th><th>program</th><th>expectation</th><th>result</th></tr>",
    );
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td>\
             <td class=\"{}\">{}</td></tr>",
            sc.name,
            s.trials.len(),
            f(s.failover_ms),
            f(s.failback_ms),
            s.failed_requests.median,
            s.failed_requests.max,
            m(s.detection_ms),
            m(s.decision_ms),
            m(s.update_ms),
            m(s.route_server_ms),
            m(s.programmed_ms),
            esc(&s.expectation),
            if s.pass { "pass" } else { "fail" },
            if s.pass { "PASS" } else { "FAIL" },
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<p class=\"legend\"><span style=\"color:#1f77b4\">● ws1</span>\
         <span style=\"color:#2ca02c\">● ws2</span><span style=\"color:#d62728\">● failed</span>\
         <span style=\"color:#000\">| injected event</span><span style=\"color:#ff7f0e\">| watcher \
         (verdict, move, UPDATE)</span><span style=\"color:#9467bd\">| route programmed</span>\
         <span style=\"color:#17becf\">| back / restarted</span></p>",
    );
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name) else {
            continue;
        };
        let _ = write!(h, "<h2>{}</h2>", sc.name);
        for t in &s.trials {
            let _ = write!(
                h,
                "<h3>trial {}: {} — failover {} ms, failback {} ms, {} failed of {} requests{}</h3>",
                t.n,
                esc(&t.event),
                t.failover_ms.map_or("-".into(), |v| format!("{v:.1}")),
                t.failback_ms.map_or("-".into(), |v| format!("{v:.1}")),
                t.failed_requests,
                t.requests,
                t.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" — error: {}", esc(e)))
            );
            h.push_str(&svg(t));
        }
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    // In a test a panic is a failed test.
    #![allow(clippy::unwrap_used)]

    use hopwatch_load::{ErrorKind, Outcome, Record};

    use super::super::timeline::{ticks, zoom};
    use super::super::{RunInfo, results};
    use super::*;
    use crate::trial::{Marker, Trial};

    const START: u64 = 1_700_000_000_000_000;
    const EVENT: u64 = START + 300_000;

    fn marker(label: &str, after_event_us: u64, kind: &'static str) -> Marker {
        Marker {
            label: label.into(),
            ts_us: EVENT + after_event_us,
            kind,
        }
    }

    /// A kill at +300 ms of a 1 s trial at 1000 requests/s: 12 failures, ws2 from
    /// +12 ms, ws1 back at +330 ms and moved back to at +430 ms (within 1 s of the
    /// event), a lone failure at +500 ms, and the watcher's markers close together.
    fn trial() -> Trial {
        let records: Vec<Record> = (0..1000u64)
            .map(|i| {
                let sent_us = START + i * 1000 + 37;
                let after = sent_us as i64 - EVENT as i64;
                let (outcome, backend) = if (0..12_000).contains(&after) || i == 800 {
                    (Outcome::Error(ErrorKind::ConnectRefused), None)
                } else if (12_000..580_000).contains(&after) {
                    (Outcome::Ok { status: 200 }, Some("ws2".to_string()))
                } else {
                    (Outcome::Ok { status: 200 }, Some("ws1".to_string()))
                };
                Record {
                    scheduled_us: sent_us - 37,
                    sent_us,
                    latency_us: Some(200),
                    outcome,
                    backend,
                }
            })
            .collect();
        Trial {
            scenario: "kill".into(),
            n: 1,
            start_us: START,
            end_us: START + 999_000,
            event: "SIGKILL ws1".into(),
            event_us: EVENT,
            pass: true,
            error: None,
            requests: 1000,
            failed_requests: 13,
            failover_ms: Some(12.0),
            failback_ms: Some(250.0),
            detection_ms: Some(4.7),
            decision_ms: Some(4.9),
            update_ms: Some(0.2),
            programmed_ms: Some(7.2),
            route_server_ms: Some(2.1),
            failback_reason: Some("recovery".into()),
            failback_after_up_ms: None,
            early_failback: None,
            takeover_ms: None,
            moves_seen: None,
            answered_by_ws2: None,
            vips: None,
            outages: Vec::new(),
            markers: vec![
                marker("SIGKILL ws1", 0, "event"),
                marker("ws1 down (watcher)", 4_700, "detect"),
                marker("move ws1→ws2 (failover)", 4_900, "move"),
                marker("UPDATE sent", 5_100, "update"),
                marker("programmed 127.10.0.5", 7_200, "programmed"),
                marker("observer got 127.10.0.5", 7_600, "programmed"),
                marker("ws1 restarted", 330_000, "back"),
                marker("move ws2→ws1 (recovery)", 430_000, "move"),
                marker("programmed 127.10.0.4", 578_000, "programmed"),
            ],
            records,
            cpu: Vec::new(),
        }
    }

    fn kill() -> &'static Scenario {
        crate::scenarios::parse("kill").unwrap()
    }

    fn sample_page() -> String {
        let r = results(
            &[kill()],
            vec![trial()],
            RunInfo {
                rate: 1000.0,
                hold_ms: 3000,
                run_time_s: 1.0,
                setup: "a synthetic trial".into(),
                route_server: "hopwatch".into(),
                timed: true,
                vips: 1,
            },
        );
        let html = page(&[kill()], &r);
        // To look at it: HOPWATCH_REPORT_SAMPLE=/tmp/report.html cargo test ...
        if let Ok(path) = std::env::var("HOPWATCH_REPORT_SAMPLE") {
            std::fs::write(path, &html).unwrap();
        }
        html
    }

    /// The `<svg>` elements of a page.
    fn svgs(html: &str) -> Vec<&str> {
        html.split("<svg").skip(1).collect()
    }

    #[test]
    fn ticks_are_round_steps_from_the_event() {
        let values = |lo, hi| -> Vec<f64> { ticks(lo, hi).into_iter().map(|t| t.0).collect() };
        assert_eq!(
            values(-300.4, 746.6),
            [
                -300.0, -200.0, -100.0, 0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0
            ]
        );
        let labels: Vec<String> = ticks(-4.0, 16.0).into_iter().map(|t| t.1).collect();
        assert_eq!(
            labels,
            [
                "\u{2212}4 ms",
                "\u{2212}2 ms",
                "0",
                "+2 ms",
                "+4 ms",
                "+6 ms",
                "+8 ms",
                "+10 ms",
                "+12 ms",
                "+14 ms",
                "+16 ms"
            ]
        );
        let labels: Vec<String> = ticks(-0.3, 0.9).into_iter().map(|t| t.1).collect();
        assert_eq!(labels.first().map(String::as_str), Some("\u{2212}0.3 ms"));
        assert!(labels.contains(&"0".to_string()));
        let labels: Vec<String> = ticks(-2_000.0, 9_000.0).into_iter().map(|t| t.1).collect();
        assert_eq!(labels.last().map(String::as_str), Some("+9 s"));
        for (lo, hi) in [
            (-300.4, 746.6),
            (-6.6, 26.2),
            (-1.0, 0.5),
            (-5000.0, 60_000.0),
        ] {
            let t = ticks(lo, hi);
            assert!((5..=13).contains(&t.len()), "{lo}..{hi}: {t:?}");
            assert!(t.iter().any(|(v, _)| *v == 0.0), "{lo}..{hi}: {t:?}");
        }
        assert!(ticks(1.0, 1.0).is_empty());
    }

    #[test]
    fn the_zoom_ends_with_the_failover_not_the_failback() {
        let t = trial();
        let (from, to) = zoom(&t).unwrap();
        assert!(from < EVENT && from + 10_000 > EVENT, "{from} {EVENT}");
        // The first success from ws2 at +12 ms, and a little after.
        assert!(to > EVENT + 12_000 && to < EVENT + 30_000, "{}", to - EVENT);
        // No failover, no zoom.
        let mut none = trial();
        none.failover_ms = None;
        assert!(zoom(&none).is_none());
        let html = sample_page();
        assert_eq!(svgs(&html).len(), 2);
    }

    #[test]
    fn every_marker_label_shows_and_the_picture_fits() {
        let html = sample_page();
        for svg in svgs(&html) {
            assert!(
                svg.contains("style=\"max-width:100%;height:auto\""),
                "{svg}"
            );
            assert!(svg.contains("viewBox=\"0 0 1100 "), "{svg}");
            // The lines are under the dots: every marker line before the first dot.
            let first_dot = svg.find("<circle").unwrap();
            let last_line = svg.rfind("stroke-dasharray").unwrap();
            assert!(last_line < first_dot);
            // Failures are bars too.
            assert!(svg.contains("<rect"), "{svg}");
            // 0, the event, is a tick.
            assert!(svg.contains(">0</text>"), "{svg}");
        }
        let whole = svgs(&html)[0];
        for m in trial().markers {
            assert!(
                whole.contains(&format!(">{} (", esc(&m.label))),
                "{} is missing from the whole-trial panel",
                m.label
            );
        }
        // The lone failure at +500 ms: a bar at least 4 px wide.
        assert!(
            whole.contains(
                "width=\"4.4\" height=\"4.4\" rx=\"2.2\" fill=\"#d62728\"><title>1 failed"
            ),
            "{whole}"
        );
        // More rows than the old five, and the picture tall enough for them.
        let ys: Vec<f64> = whole
            .split("<text x=\"")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.0))
            .filter(|attrs| attrs.contains("font-size=\"10\""))
            .filter_map(|attrs| attrs.split("y=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        let lowest = ys.iter().copied().fold(0.0, f64::max);
        let height: f64 = whole
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next()?.parse().ok())
            .unwrap();
        assert!(lowest > 163.0 + 4.0 * 12.0, "{ys:?}");
        assert!(height >= lowest + 8.0, "{height} {ys:?}");
        // A tick's label at the right end ends there.
        for svg in svgs(&html) {
            let last = svg
                .rsplit("fill=\"#888\" text-anchor=\"")
                .next()
                .and_then(|t| t.split('"').next())
                .unwrap();
            let x: f64 = svg
                .rsplit("<text x=\"")
                .find(|t| t.contains("fill=\"#888\""))
                .and_then(|t| t.split('"').next()?.parse().ok())
                .unwrap();
            assert!(x < 1060.0 || last == "end", "{x} {last}");
        }
    }
}
