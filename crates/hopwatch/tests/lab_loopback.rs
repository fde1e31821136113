//! `hopwatch lab` as a user runs it: `--scenario kill,drain --trials 1` on loopback,
//! bounded to 90 s. It exits 0, writes results.json (a failover figure for kill, zero
//! failed requests for drain) and report.html with its SVG timelines, and leaves no
//! child process and no lab port behind. Then headless Chromium opens report.html: its
//! DOM holds every SVG and dot, and its screenshot (`report.png`, kept in the output
//! directory under `target/tmp/lab_loopback/`) shows the timelines: one panel per SVG,
//! lanes of dots in the colours of ws1, ws2 and failures, across the whole trial.
//!
//! Chromium missing fails the test (CI installs it) unless `HOPWATCH_INTEROP=skip`.
//!
//! And `--vips 20 --scenario kill --trials 1`: the report names all 20 VIPs programmed
//! on ws2, the UPDATE messages of the move per route server instance, and each
//! process's idle CPU. Twenty: the watcher probes each (VIP, backend) on its own,
//! and its config check refuses past the probes one core does at the lab's 10 ms.
//! The two labs take turns (the same ports).

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hopwatch_lab::topology::{Layout, Profile};
use serde_json::Value;
use support::lab_run;

/// One lab at a time: two would want the same ports.
static ONE_LAB: Mutex<()> = Mutex::new(());

#[test]
fn the_lab_runs_kill_and_drain_then_leaves_nothing_behind() {
    let _turn = ONE_LAB.lock().unwrap_or_else(PoisonError::into_inner);
    // Under target/, replaced on every run (two labs cannot run at once: same ports), so
    // that the report and its screenshot stay for a person to look at.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab_loopback");
    // Bounded: 90 s. Every child gone, exit 0, the report's path printed.
    let run = lab_run::run(
        &dir,
        &["--scenario", "kill,drain", "--trials", "1"],
        Duration::from_secs(90),
    );
    let context = &run.context;
    // And the lab's ports are free: every address the loopback lab listens on, from
    // the lab's own layout (the seed's addresses are written once, in the lab crate).
    let ports = Layout::loopback(Profile::Instant).ports();
    assert_eq!(ports.len(), 10, "{ports:?}");
    for (addr, what) in ports {
        assert!(
            TcpListener::bind(addr).is_ok(),
            "{addr} ({what}) is still taken after the lab\n{context}"
        );
    }

    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    let kill = &results["scenarios"]["kill"];
    let drain = &results["scenarios"]["drain"];
    assert_eq!(
        kill["trials"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
    assert_eq!(
        drain["trials"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
    assert!(
        kill["failover_ms"]["median"].as_f64().is_some(),
        "kill has a failover figure: {kill}"
    );
    assert_eq!(
        drain["failed_requests"]["max"].as_u64(),
        Some(0),
        "drain lost requests: {drain}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report.html has no SVG");
    assert!(dir.join("requests.csv").exists());

    let failed: u64 = ["kill", "drain"]
        .iter()
        .filter_map(|s| results["scenarios"][s]["trials"].as_array())
        .flatten()
        .filter_map(|t| t["failed_requests"].as_u64())
        .sum();
    in_the_browser(&dir, &html, failed, 2);
}

#[test]
fn the_lab_moves_twenty_vips_and_counts_the_updates_of_the_move() {
    let _turn = ONE_LAB.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab_loopback_vips");
    let run = lab_run::run(
        &dir,
        &["--vips", "20", "--scenario", "kill", "--trials", "1"],
        Duration::from_secs(120),
    );
    let (stdout, context) = (&run.stdout, &run.context);

    // Both watchers' configs: 20 VIPs, one check URL per backend for all.
    for config in ["watcher.toml", "standby.toml"] {
        let toml = std::fs::read_to_string(dir.join(config)).unwrap();
        assert_eq!(toml.matches("[[vip]]").count(), 20, "{config}");
        assert_eq!(
            toml.matches("check = \"http://127.10.0.5:8080/health\"")
                .count(),
            20,
            "{config}"
        );
    }

    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["vips"].as_u64(), Some(20), "{context}");
    let trial = &results["scenarios"]["kill"]["trials"][0];
    let vips = &trial["vips"];
    assert_eq!(vips["vips"].as_u64(), Some(20), "{trial}");
    assert_eq!(vips["programmed"].as_u64(), Some(20), "{trial}");
    assert_eq!(vips["missing"].as_array().map(Vec::len), Some(0), "{trial}");
    let last = vips["last_programmed_ms"].as_f64().unwrap();
    let seed = trial["programmed_ms"].as_f64().unwrap();
    assert!(
        last >= seed,
        "the last VIP {last} ms before the seed's {seed} ms"
    );
    let instances = vips["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{vips}");
    for i in instances {
        // At least one message, at most one per VIP and then some (a resend).
        let updates = i["updates"].as_u64().unwrap();
        assert!((1..=40).contains(&updates), "{i}");
        assert_eq!(i["announced"].as_u64(), Some(20), "{i}");
        // hopwatch's route server logged every VIP arriving.
        assert_eq!(i["received"].as_u64(), Some(20), "{i}");
    }
    let idle = &results["idle"];
    assert!(idle["seconds"].as_f64().is_some_and(|s| s >= 4.5), "{idle}");
    assert!(
        idle["cpu"]
            .as_array()
            .is_some_and(|c| c.iter().any(|u| u["process"] == "watcher")),
        "{idle}"
    );
    assert!(
        idle["rss_kib"]["watcher"].as_u64().is_some_and(|k| k > 0),
        "{idle}"
    );

    // And the table says so.
    for text in [
        "20/20 VIPs on ws2",
        "20 VIPs on ws1/ws2",
        "UPDATEs to 127.10.1.4",
        "UPDATEs to 127.10.1.5",
        "idle, before the first trial",
    ] {
        assert!(
            stdout.contains(text),
            "no {text:?} in the output\n{context}"
        );
    }
}

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The screenshot's size (CSS pixels, device scale 1): the report's 1100 px panels fit
/// across, and the panels of two one-trial scenarios fit down.
const WINDOW: (usize, usize) = (1400, 2000);
/// How long one Chromium run may take before its process group is killed.
const BROWSER_BOUND: Duration = Duration::from_secs(30);

/// The report's colours (`crates/lab/src/report/timeline.rs`): the dots of ws1, of
/// ws2, of failures, and the panels' background.
const WS1: [u8; 3] = [0x1f, 0x77, 0xb4];
const WS2: [u8; 3] = [0x2c, 0xa0, 0x2c];
const FAILED: [u8; 3] = [0xd6, 0x27, 0x28];
const PANEL: [u8; 3] = [0xfc, 0xfc, 0xfc];
/// The lane names are left of this many pixels in a panel; the dots start at 60.
const PLOT_LEFT: usize = 50;

/// Writes a line straight to stderr, past the harness's output capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Opens report.html in headless Chromium: the DOM it parsed, then a screenshot, which
/// must show the timelines. `failed` is the trials' failed requests in total, `trials`
/// how many trials the report has.
fn in_the_browser(dir: &Path, html: &str, failed: u64, trials: usize) {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
            say("lab_loopback: the browser check of report.html skipped: HOPWATCH_INTEROP=skip");
            return;
        }
        panic!(
            "lab_loopback needs {CHROMIUM} to check report.html in a browser: install the \
             Debian package `chromium` (`./test` installs it when missing), or set HOPWATCH_INTEROP=skip to skip \
             that check explicitly"
        );
    }
    let url = format!("file://{}", dir.join("report.html").display());

    // The DOM: every SVG and dot of the file, parsed as HTML with inline SVG.
    let dom = chromium(dir, "dom", &["--dump-dom".into(), url.clone()]);
    for tag in ["<svg", "<circle"] {
        let (in_file, in_dom) = (html.matches(tag).count(), dom.matches(tag).count());
        assert!(
            in_file > 0 && in_dom == in_file,
            "report.html has {in_file} {tag}> elements, Chromium's DOM {in_dom}"
        );
    }
    let svgs = html.matches("<svg").count();

    // The screenshot.
    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        dir,
        "screenshot",
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            "--hide-scrollbars".into(),
            url,
        ],
    );
    say(&format!(
        "lab_loopback: screenshot of report.html: {}",
        png.display()
    ));
    let img = Image::decode(&png);
    let shown = format!("(screenshot {})", png.display());
    assert_eq!((img.w, img.h), WINDOW, "screenshot size {shown}");
    let inked = img.px.iter().filter(|p| **p != [255; 3]).count();
    assert!(
        inked * 20 > img.px.len(),
        "the page is (nearly) blank: {inked} of {} pixels are not white {shown}",
        img.px.len()
    );

    let panels = img.panels();
    assert_eq!(
        panels.len(),
        svgs,
        "the report has {svgs} SVG timelines, the screenshot shows {} panels {shown}",
        panels.len()
    );
    let mut totals = [0usize; 3];
    // Panels with dots from end to end.
    let mut full = 0;
    for (i, p) in panels.iter().enumerate() {
        let lanes = [WS1, WS2, FAILED].map(|c| img.lane(p, c));
        let mut bands: Vec<(usize, usize)> = Vec::new();
        for (lane, name) in lanes.iter().zip(["ws1", "ws2", "failed"]) {
            let Some((top, bottom)) = lane.rows else {
                continue;
            };
            // One lane: a row of dots a few pixels high, apart from the other lanes.
            assert!(
                bottom - top <= 12,
                "panel {i}: the {name} dots spread over rows {top}..={bottom}, not one lane \
                 {shown}"
            );
            assert!(
                bands.iter().all(|&(t, b)| bottom < t || top > b),
                "panel {i}: the {name} lane {top}..={bottom} overlaps another {shown}"
            );
            bands.push((top, bottom));
        }
        for (t, lane) in totals.iter_mut().zip(&lanes) {
            *t += lane.pixels;
        }
        // The load runs all along a trial: its whole-trial panel has dots from one end
        // to the other (within 5 %), in most columns (the injector may lag on a busy
        // machine and leave gaps).
        let columns: BTreeSet<usize> = lanes.iter().flat_map(|l| l.columns.clone()).collect();
        let width = p.x1 - p.x0 - PLOT_LEFT;
        let (first, last) = (columns.first().copied(), columns.last().copied());
        if first.is_some_and(|c| c <= p.x0 + PLOT_LEFT + width / 20)
            && last.is_some_and(|c| c + width / 20 >= p.x1)
            && columns.len() * 10 >= width * 4
        {
            full += 1;
        }
        say(&format!(
            "lab_loopback: panel {i} at y {}..{}: ws1 {} px, ws2 {} px, failed {} px, dots in \
             {} of {width} columns",
            p.y0,
            p.y1,
            lanes[0].pixels,
            lanes[1].pixels,
            lanes[2].pixels,
            columns.len()
        ));
    }
    let [ws1, ws2, red] = totals;
    // A dot is a disc of radius 2.2 px: about 15 pixels of its own colour.
    assert!(ws1 >= 200, "only {ws1} pixels of ws1's colour {shown}");
    assert!(ws2 >= 200, "only {ws2} pixels of ws2's colour {shown}");
    if failed == 0 {
        assert_eq!(red, 0, "no request failed, yet failures are drawn {shown}");
    } else {
        // Each failure is at most one dot per panel, and failures show at all.
        assert!(
            red >= 4,
            "{failed} requests failed, but only {red} pixels of the failure colour show {shown}"
        );
        let most = failed as usize * svgs * 25;
        assert!(
            red <= most,
            "{red} pixels of the failure colour for {failed} failed requests {shown}"
        );
    }
    assert!(
        full >= trials,
        "only {full} panels have dots from end to end, for {trials} trials {shown}"
    );
}

/// Runs headless Chromium with `args` after the flags it needs here (as root; never
/// reaching the network; a fresh profile), bounded by [`BROWSER_BOUND`]; returns its
/// stdout. Its output is kept as `chromium-NAME.stdout` and `.stderr` in `dir`.
fn chromium(dir: &Path, name: &str, args: &[String]) -> String {
    let profile = dir.join(format!("chromium-{name}-profile"));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let out_path = dir.join(format!("chromium-{name}.stdout"));
    let err_path = dir.join(format!("chromium-{name}.stderr"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        // Its own process group, so that a hung browser goes with all its helpers.
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + BROWSER_BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Helpers it left behind (none, normally) go too, each by its PID.
    for helper in in_group(pid) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", &helper.to_string()])
            .status();
    }
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail: String = {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    let status = status.unwrap_or_else(|| {
        panic!(
            "chromium ({name}) ran over {} s and was killed; stderr:\n{tail}",
            BROWSER_BOUND.as_secs()
        )
    });
    assert!(
        status.success(),
        "chromium ({name}) exited with {status}; stderr:\n{tail}"
    );
    stdout
}

/// The live processes of process group `pgid`.
fn in_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                // After the command's name: state, ppid, pgrp.
                let mut f = s.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace();
                let state = f.next();
                let pgrp = f.nth(1).and_then(|g| g.parse::<u32>().ok());
                state != Some("Z") && pgrp == Some(pgid)
            })
        })
        .collect()
}

/// A decoded screenshot: 8-bit RGB, row by row.
struct Image {
    w: usize,
    h: usize,
    px: Vec<[u8; 3]>,
}

/// A timeline panel in the screenshot: the pixels of its background, borders excluded.
struct Panel {
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
}

/// The pixels of one colour in a panel's plot (right of the lane names).
struct Lane {
    pixels: usize,
    /// The first and last row holding one.
    rows: Option<(usize, usize)>,
    /// The columns holding one.
    columns: BTreeSet<usize>,
}

/// Within 3 per channel: Chromium may round a colour.
fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3)
}

impl Image {
    fn decode(path: &Path) -> Image {
        let file = std::fs::File::open(path).unwrap();
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let step = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("{}: a {other:?} PNG, not RGB", path.display()),
        };
        let (w, h) = (info.width as usize, info.height as usize);
        let px = buf[..w * h * step]
            .chunks_exact(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image { w, h, px }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.px[y * self.w + x]
    }

    /// The panels, top to bottom: bands of rows that hold a long stretch of the
    /// panels' background, each as wide as that background reaches.
    fn panels(&self) -> Vec<Panel> {
        let background = |y: usize| (0..self.w).filter(|&x| self.at(x, y) == PANEL).count();
        let mut out: Vec<Panel> = Vec::new();
        let mut start = None;
        for y in 0..=self.h {
            let inside = y < self.h && background(y) >= 100;
            match (inside, start) {
                (true, None) => start = Some(y),
                (false, Some(y0)) => {
                    start = None;
                    let xs: Vec<usize> = (y0..y)
                        .flat_map(|yy| (0..self.w).filter(move |&x| self.at(x, yy) == PANEL))
                        .collect();
                    let (x0, x1) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
                    // A panel is a timeline's size, not a stray stripe.
                    if y - y0 >= 50 && x1 - x0 >= 300 {
                        out.push(Panel {
                            x0,
                            x1: x1 + 1,
                            y0,
                            y1: y,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn lane(&self, p: &Panel, colour: [u8; 3]) -> Lane {
        let mut lane = Lane {
            pixels: 0,
            rows: None,
            columns: BTreeSet::new(),
        };
        for y in p.y0..p.y1 {
            for x in p.x0 + PLOT_LEFT..p.x1 {
                if near(self.at(x, y), colour) {
                    lane.pixels += 1;
                    lane.columns.insert(x);
                    lane.rows = Some(lane.rows.map_or((y, y), |(t, _)| (t, y)));
                }
            }
        }
        lane
    }
}
