//! What a run leaves behind: the raw CSV (one row per request), the JSON summary,
//! and the summary text a person reads.
//!
//! The CSV is the lab's raw data and the input of any later analysis, so it is read
//! back here too ([`read_csv`]), with the same columns it is written with:
//!
//! ```text
//! scheduled_us,sent_us,latency_us,outcome,status,backend
//! 1764000000000000,1764000000000012,231,ok,200,ws1
//! 1764000000000500,1764000000000511,,connect_refused,,
//! ```
//!
//! `outcome` is `ok` when a response came (whatever its `status`), else the
//! [`ErrorKind`] name. Empty fields are absent values. Quoting follows RFC 4180 (the
//! `csv` crate), so a backend name with a comma survives the round trip.

use std::fmt::Write as _;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::analysis::{OutageKind, Percentiles, Summary};
use crate::record::{ErrorKind, Outcome, Record, UnknownOutcome};

/// Why the CSV or the summary could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The CSV layer failed (IO, or a malformed row when reading).
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// The JSON summary could not be written or parsed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// An `outcome` column holds an unknown name.
    #[error("csv: {0}")]
    Outcome(#[from] UnknownOutcome),
    /// `outcome` is `ok` without a status.
    #[error("csv: outcome ok without a status")]
    MissingStatus,
}

#[derive(Debug, Serialize, Deserialize)]
struct Row {
    scheduled_us: u64,
    sent_us: u64,
    latency_us: Option<u64>,
    outcome: String,
    status: Option<u16>,
    backend: Option<String>,
}

/// Writes one row per record, with a header.
pub fn write_csv<W: Write>(w: W, records: &[Record]) -> Result<(), OutputError> {
    let mut writer = csv::Writer::from_writer(w);
    for r in records {
        let (outcome, status) = match r.outcome {
            Outcome::Ok { status } => ("ok".to_string(), Some(status)),
            Outcome::Error(kind) => (kind.as_str().to_string(), None),
        };
        writer.serialize(Row {
            scheduled_us: r.scheduled_us,
            sent_us: r.sent_us,
            latency_us: r.latency_us,
            outcome,
            status,
            backend: r.backend.clone(),
        })?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Reads records written by [`write_csv`].
pub fn read_csv<R: Read>(r: R) -> Result<Vec<Record>, OutputError> {
    let mut reader = csv::Reader::from_reader(r);
    let mut records = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row?;
        let outcome = if row.outcome == "ok" {
            Outcome::Ok {
                status: row.status.ok_or(OutputError::MissingStatus)?,
            }
        } else {
            Outcome::Error(row.outcome.parse::<ErrorKind>()?)
        };
        records.push(Record {
            scheduled_us: row.scheduled_us,
            sent_us: row.sent_us,
            latency_us: row.latency_us,
            outcome,
            backend: row.backend.filter(|b| !b.is_empty()),
        });
    }
    Ok(records)
}

/// Writes the summary as pretty JSON (the fields of [`Summary`]).
pub fn write_summary<W: Write>(mut w: W, summary: &Summary) -> Result<(), OutputError> {
    serde_json::to_writer_pretty(&mut w, summary)?;
    w.write_all(b"\n").map_err(serde_json::Error::io)?;
    Ok(())
}

/// Reads a summary written by [`write_summary`].
pub fn read_summary<R: Read>(r: R) -> Result<Summary, OutputError> {
    Ok(serde_json::from_reader(r)?)
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The quantiles, or `none` (what) when there were no values: a p50 of 0.00 ms
/// over nothing reads as a fast server.
fn quantiles(p: &Percentiles, none: &str) -> String {
    if p.count == 0 {
        return none.to_string();
    }
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p.p50, p.p90, p.p99, p.max
    )
}

/// The summary as a person reads it: counts, rates, latency (none without a
/// success), then one line per outage or switch (start relative to the first
/// request and as µs since the epoch, duration, failed requests, before → after),
/// and a verdict line when no request succeeded.
pub fn render(summary: &Summary) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "requests {} (sent {}): ok {}, failed {}",
        summary.requests, summary.sent, summary.ok, summary.failed
    );
    if !summary.errors.is_empty() {
        let _ = write!(s, " [{}]", counts(&summary.errors));
    }
    s.push('\n');
    let asked = summary
        .asked_rate
        .map_or(String::new(), |r| format!("asked {r:.0}/s, "));
    let _ = writeln!(
        s,
        "rate: {asked}achieved {:.1}/s; schedule lag {}",
        summary.achieved_rate,
        quantiles(&summary.schedule_lag_ms, "- (no request)")
    );
    let _ = writeln!(
        s,
        "latency (ok): {}",
        quantiles(&summary.latency_ms, "- (no successful request)")
    );
    let mut backends = counts(&summary.backends);
    if summary.ok_without_backend > 0 {
        if !backends.is_empty() {
            backends.push_str(", ");
        }
        let _ = write!(backends, "unnamed {}", summary.ok_without_backend);
    }
    let _ = writeln!(
        s,
        "backends: {}",
        if backends.is_empty() {
            "none"
        } else {
            &backends
        }
    );
    let origin = summary.first_scheduled_us.unwrap_or(0);
    if summary.outages.is_empty() {
        s.push_str("outages: none\n");
    } else {
        let _ = writeln!(s, "outages: {}", summary.outages.len());
    }
    for o in &summary.outages {
        let kind = match o.kind {
            OutageKind::Outage => "outage",
            OutageKind::Switch => "switch",
        };
        let rel = (o.start_us as f64 - origin as f64) / 1e6;
        let duration = o
            .duration_ms
            .map_or("unfinished".to_string(), |d| format!("{d:.1} ms"));
        let name = |b: &Option<String>| b.clone().unwrap_or_else(|| "?".into());
        let _ = write!(
            s,
            "  {kind} at +{rel:.3} s (ts_us {}): {duration}, failed {}",
            o.start_us, o.failed_requests
        );
        if !o.errors.is_empty() {
            let _ = write!(s, " [{}]", counts(&o.errors));
        }
        let _ = write!(s, ", {} → {}", name(&o.before), name(&o.after));
        if let Some(e) = &o.event {
            let _ = write!(s, " (from event {e:?})");
        }
        s.push('\n');
    }
    for e in &summary.unmatched_events {
        let _ = writeln!(
            s,
            "  event {:?} at ts_us {} matched no outage",
            e.name, e.ts_us
        );
    }
    if summary.no_success() {
        let _ = writeln!(
            s,
            "verdict: no request succeeded ({} of {} failed)",
            summary.failed, summary.requests
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisConfig, analyze};

    fn sample() -> Vec<Record> {
        vec![
            Record {
                scheduled_us: 1_000_000,
                sent_us: 1_000_012,
                latency_us: Some(231),
                outcome: Outcome::Ok { status: 200 },
                backend: Some("ws1".into()),
            },
            Record {
                scheduled_us: 1_000_500,
                sent_us: 1_000_511,
                latency_us: None,
                outcome: Outcome::Error(ErrorKind::ConnectRefused),
                backend: None,
            },
            Record {
                scheduled_us: 1_001_000,
                sent_us: 1_001_010,
                latency_us: Some(400),
                outcome: Outcome::Ok { status: 503 },
                backend: None,
            },
            Record {
                scheduled_us: 1_001_500,
                sent_us: 1_001_510,
                latency_us: Some(300),
                outcome: Outcome::Ok { status: 200 },
                backend: Some("ws,\"2\"".into()),
            },
        ]
    }

    #[test]
    fn the_csv_has_the_documented_columns() {
        let mut out = Vec::new();
        write_csv(&mut out, &sample()[..2]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "scheduled_us,sent_us,latency_us,outcome,status,backend\n\
             1000000,1000012,231,ok,200,ws1\n\
             1000500,1000511,,connect_refused,,\n"
        );
    }

    #[test]
    fn the_csv_reads_back_as_written() {
        let mut out = Vec::new();
        write_csv(&mut out, &sample()).unwrap_or_else(|e| panic!("{e}"));
        let back = read_csv(out.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, sample());
    }

    #[test]
    fn bad_csv_rows_are_errors_not_panics() {
        let header = "scheduled_us,sent_us,latency_us,outcome,status,backend\n";
        for row in [
            "1,2,,nope,,\n",
            "1,2,3,ok,,ws1\n",
            "x,2,,ok,200,\n",
            "1,2\n",
        ] {
            assert!(
                read_csv(format!("{header}{row}").as_bytes()).is_err(),
                "{row}"
            );
        }
    }

    #[test]
    fn the_summary_reads_back_and_renders_each_outage() {
        let events = [crate::record::Event {
            ts_us: 1_000_400,
            name: "kill ws1".into(),
        }];
        let summary = analyze(&sample(), &events, &AnalysisConfig::default());
        let mut out = Vec::new();
        write_summary(&mut out, &summary).unwrap_or_else(|e| panic!("{e}"));
        let back = read_summary(out.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, summary);
        let text = render(&summary);
        assert!(
            text.contains("requests 4 (sent 4): ok 2, failed 2"),
            "{text}"
        );
        assert!(!text.contains("verdict"), "{text}");
        assert!(
            text.contains("outage at +0.000 s (ts_us 1000400): 1.1 ms, failed 2 [connect_refused 1, status_503 1], ws1 → ws,\"2\" (from event \"kill ws1\")"),
            "{text}"
        );
    }

    #[test]
    fn without_a_success_there_is_no_latency_figure_and_a_verdict() {
        let failed: Vec<Record> = sample().into_iter().filter(|r| !r.is_success()).collect();
        let summary = analyze(&failed, &[], &AnalysisConfig::default());
        assert!(summary.no_success());
        let text = render(&summary);
        assert!(
            text.contains("latency (ok): - (no successful request)\n"),
            "{text}"
        );
        assert!(!text.contains("latency (ok): p50"), "{text}");
        assert!(
            text.contains("verdict: no request succeeded (2 of 2 failed)"),
            "{text}"
        );
        let empty = analyze(&[], &[], &AnalysisConfig::default());
        assert!(!empty.no_success(), "no request is no verdict");
        assert!(render(&empty).contains("schedule lag - (no request)"));
    }
}
