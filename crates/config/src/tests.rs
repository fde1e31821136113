//! Config tests: the example is accepted, and each kind of mistake gets one clear
//! message naming the file, the line and the key.

use std::path::Path;

use super::*;

const EXAMPLE: &str = include_str!("../../../examples/watcher.toml");

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("w.toml"), text) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap_or_default()
}

fn replace(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "{from:?} is not in the example");
    EXAMPLE.replacen(from, to, 1)
}

#[test]
fn the_issues_example_is_accepted_as_written() {
    let loaded = parse(Path::new("w.toml"), EXAMPLE).unwrap();
    let c = loaded.config;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(c.bgp.local_as.0, 65001);
    assert_eq!(c.bgp.hold_time.secs(), 9);
    assert_eq!(c.bgp.graceful_restart, Some(10));
    assert_eq!(c.route_servers.len(), 2);
    assert_eq!(c.vips[0].backends[1].name, "ws2");
    assert_eq!(c.health.interval, std::time::Duration::from_millis(10));
    assert_eq!(c.failover.failback_hold, std::time::Duration::from_secs(30));
    assert_eq!(c.failover.all_down, AllDown::Keep);
}

#[test]
fn the_watched_connection_is_on_by_default_and_can_be_turned_off_per_backend() {
    let c = parse(Path::new("w.toml"), EXAMPLE).unwrap().config;
    assert!(c.health.watch_connection);
    assert_eq!(c.vips[0].backends[0].watch_connection, None);
    let text = replace(
        "check = \"http://10.10.0.5/\"",
        "check = \"http://10.10.0.5/\", watch_connection = false",
    )
    .replace("# watch_connection = true", "watch_connection = true");
    let c = parse(Path::new("w.toml"), &text).unwrap().config;
    assert!(c.health.watch_connection);
    assert_eq!(c.vips[0].backends[1].watch_connection, Some(false));
}

#[test]
fn a_probe_source_of_the_other_family_is_refused() {
    let c = parse(
        Path::new("w.toml"),
        &replace("# source = \"10.10.0.7\"", "source = \"10.10.0.7\""),
    )
    .unwrap()
    .config;
    assert_eq!(c.health.source, Some("10.10.0.7".parse().unwrap()));
    let e = one_error(&replace(
        "check = \"http://10.10.0.5/\"",
        "check = \"http://10.10.0.5/\", source = \"2001:db8::7\"",
    ));
    assert!(
        e.contains("backends[1].source") && e.contains("address family"),
        "{e}"
    );
}

#[test]
fn a_type_error_names_file_line_and_key() {
    let e = one_error(&replace("local_as = 65001", "local_as = \"sixty-five\""));
    assert!(e.starts_with("w.toml:6: bgp.local_as: "), "{e}");
}

#[test]
fn a_bad_duration_says_how_to_write_one() {
    let e = one_error(&replace("interval = \"10ms\"", "interval = \"ten\""));
    assert!(e.starts_with("w.toml:27: health.interval: "), "{e}");
    assert!(e.contains("\"10ms\""), "{e}");
}

#[test]
fn an_unknown_key_is_refused_with_its_place() {
    let e = one_error(&replace(
        "preempt = true",
        "preempt = true\npre_empt = false",
    ));
    assert!(
        e.starts_with("w.toml:36: failover.pre_empt: unknown field"),
        "{e}"
    );
    assert!(e.contains("pre_empt"), "{e}");
}

#[test]
fn a_syntax_error_names_the_line() {
    let e = one_error(&replace("fall = 2", "fall = = 2"));
    assert!(e.starts_with("w.toml:29: "), "{e}");
}

#[test]
fn a_bad_check_url_names_the_backend() {
    let e = one_error(&replace("http://10.10.0.5/", "http://ws2.example/"));
    assert!(
        e.starts_with("w.toml:23: vip[0].backends[1].check: "),
        "{e}"
    );
    assert!(e.contains("not an IP address"), "{e}");
}

#[test]
fn a_next_hop_of_the_wrong_family_is_refused() {
    let e = one_error(&replace(
        "next_hop = \"10.10.0.5\"",
        "next_hop = \"2001:db8::5\"",
    ));
    assert!(e.contains("vip[0].backends[1].next_hop"), "{e}");
    assert!(e.contains("same family"), "{e}");
}

#[test]
fn an_interval_under_5ms_is_refused() {
    let e = one_error(&replace("interval = \"10ms\"", "interval = \"1ms\""));
    assert!(e.contains("health.interval") && e.contains("5 ms"), "{e}");
}

#[test]
fn a_hold_time_of_two_seconds_is_refused() {
    let e = one_error(&replace("hold_time = 9", "hold_time = 2"));
    assert!(e.starts_with("w.toml:8: bgp.hold_time: "), "{e}");
}

#[test]
fn a_token_sent_off_loopback_is_warned_of_as_clear_text() {
    let text = replace("listen = \"127.0.0.1:9179\"", "listen = \"10.10.0.7:9179\"")
        .replace("[api]\n", "[api]\ntoken = \"0123456789abcdef0123\"\n");
    let w = warnings(&text);
    assert!(
        w.iter()
            .any(|w| w.contains("api.token") && w.contains("clear text")),
        "{w:#?}"
    );
    let on_loopback = replace("[api]\n", "[api]\ntoken = \"0123456789abcdef0123\"\n");
    assert!(
        !warnings(&on_loopback)
            .iter()
            .any(|w| w.contains("clear text")),
        "no warning on loopback"
    );
}

#[test]
fn a_public_api_needs_a_token() {
    let e = one_error(&replace(
        "listen = \"127.0.0.1:9179\"",
        "listen = \"0.0.0.0:9179\"",
    ));
    assert!(e.contains("api.listen") && e.contains("token"), "{e}");
}

#[test]
fn duplicate_backend_names_are_refused() {
    let e = one_error(&replace("name = \"ws2\"", "name = \"ws1\""));
    assert!(e.contains("vip[0].backends[1].name"), "{e}");
}

#[test]
fn azure_refuses_a_vip_inside_the_vnet_like_the_seeds_first_one() {
    let text = replace("100.64.0.1/32", "10.10.15.15/32") + "\nazure = true\n";
    // `azure` must be top-level: put it before the first table.
    let text = text.replace("\nazure = true\n", "").replacen(
        "[bgp]",
        "azure = true\n[vnet]\naddress_space = [\"10.10.0.0/16\"]\n\n[bgp]",
        1,
    );
    let e = one_error(&text);
    assert!(e.contains("vip[0].prefix"), "{e}");
    assert!(
        e.contains("inside the VNET address space 10.10.0.0/16"),
        "{e}"
    );
    assert!(e.contains("system route"), "{e}");
}

#[test]
fn azure_refuses_a_four_octet_or_reserved_as_and_warns_about_one_instance() {
    let azure = |t: String| {
        t.replacen(
            "[bgp]",
            "azure = true\n[vnet]\naddress_space = [\"10.10.0.0/16\"]\n\n[bgp]",
            1,
        )
    };
    let e = one_error(&azure(replace("local_as = 65001", "local_as = 4200000001")));
    assert!(e.contains("bgp.local_as") && e.contains("2-octet"), "{e}");
    let e = one_error(&azure(replace("local_as = 65001", "local_as = 65517")));
    assert!(e.contains("reserved"), "{e}");
    let one_rs = azure(replace(
        "[[route_server]]\naddress = \"10.10.1.5\"\npeer_as = 65515\n",
        "",
    ));
    let loaded = parse(Path::new("w.toml"), &one_rs).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].to_string().contains("two"),
        "{:?}",
        loaded.warnings
    );
}

// Issue 10, finding 4: what `check` accepted and should not have.

fn warnings(text: &str) -> Vec<String> {
    match parse(Path::new("w.toml"), text) {
        Ok(l) => l.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected no error, got {e:#?}"),
    }
}

#[test]
fn a_vip_covering_the_default_route_is_refused() {
    let e = errors(&replace("100.64.0.1/32", "0.0.0.0/0"));
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:20: vip[0].prefix: ") && e.contains("default route")),
        "{e:#?}"
    );
}

#[test]
fn a_vip_wider_than_a_24_is_refused_and_one_wider_than_a_host_is_warned_about() {
    let e = one_error(&replace("100.64.0.1/32", "100.64.0.0/16"));
    assert!(e.starts_with("w.toml:20: vip[0].prefix: "), "{e}");
    assert!(e.contains("/24"), "{e}");
    let w = warnings(&replace("100.64.0.1/32", "100.64.0.0/28"));
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].contains("vip[0].prefix") && w[0].contains("host route"),
        "{w:#?}"
    );
}

#[test]
fn a_next_hop_equal_to_or_inside_the_vip_is_refused() {
    let e = one_error(&replace(
        "next_hop = \"10.10.0.5\"",
        "next_hop = \"100.64.0.1\"",
    ));
    assert!(
        e.starts_with("w.toml:23: vip[0].backends[1].next_hop: "),
        "{e}"
    );
    assert!(e.contains("inside the VIP"), "{e}");
}

#[test]
fn ibgp_with_azure_route_servers_as_is_refused_and_other_ibgp_warned_about() {
    let e = errors(&replace("local_as = 65001", "local_as = 65515"));
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:13: route_server[0].peer_as: ") && e.contains("eBGP")),
        "{e:#?}"
    );
    let ibgp = replace("local_as = 65001", "local_as = 65002")
        .replace("peer_as = 65515", "peer_as = 65002");
    let w = warnings(&ibgp);
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].contains("route_server[0].peer_as") && w[0].contains("iBGP"),
        "{w:#?}"
    );
}

#[test]
fn port_zero_is_refused() {
    let e = one_error(&replace(
        "graceful_restart = 10",
        "graceful_restart = 10\nport = 0",
    ));
    assert!(e.starts_with("w.toml:10: bgp.port: "), "{e}");
    let e = one_error(&replace("peer_as = 65515\n", "peer_as = 65515\nport = 0\n"));
    assert!(e.starts_with("w.toml:14: route_server[0].port: "), "{e}");
    let e = one_error(&replace("127.0.0.1:9179", "127.0.0.1:0"));
    assert!(e.contains("api.listen"), "{e}");
}

#[test]
fn every_duration_has_a_maximum_named_by_file_line_and_key() {
    let e = one_error(&replace("\"30s\"", "\"18446744073709551615s\""));
    assert!(e.starts_with("w.toml:36: failover.failback_hold: "), "{e}");
    assert!(e.contains("at most 1 day"), "{e}");
    let e = one_error(&replace("interval = \"10ms\"", "interval = \"2h\""));
    assert!(e.starts_with("w.toml:27: health.interval: "), "{e}");
    let e = one_error(&replace("timeout = \"25ms\"", "timeout = \"61s\""));
    assert!(e.starts_with("w.toml:28: health.timeout: "), "{e}");
    let e = one_error(&replace(
        "check = \"http://10.10.0.5/\"",
        "check = \"http://10.10.0.5/\", timeout = \"1d\"",
    ));
    assert!(
        e.starts_with("w.toml:23: vip[0].backends[1].timeout: "),
        "{e}"
    );
    let e = one_error(&replace("all_down", "startup_wait = \"1h\"\nall_down"));
    assert!(e.contains("failover.startup_wait"), "{e}");
    let e = one_error(&replace("rise = 3", "rise = 4294967295"));
    assert!(e.starts_with("w.toml:30: health.rise: "), "{e}");
}

/// `n` VIPs of two backends each, every `interval`.
fn many_vips(n: usize, interval: &str) -> String {
    let mut text = replace("interval = \"10ms\"", &format!("interval = \"{interval}\""));
    let vip = "[[vip]]\nprefix = \"100.64.0.1/32\"";
    let at = text.find(vip).unwrap_or_default();
    let mut more = String::new();
    for i in 1..n {
        let (a, b) = (i / 250, i % 250);
        more.push_str(&format!(
            "[[vip]]\nprefix = \"100.65.{a}.{b}/32\"\nbackends = [\n  {{ name = \"ws1\", next_hop = \"10.10.0.4\", check = \"http://10.10.0.4/\" }},\n  {{ name = \"ws2\", next_hop = \"10.10.0.5\", check = \"http://10.10.0.5/\" }},\n]\n\n"
        ));
    }
    text.insert_str(at, &more);
    text
}

#[test]
fn check_says_how_soon_a_silent_backend_is_down() {
    let loaded = parse(Path::new("w.toml"), EXAMPLE).unwrap();
    let text = describe(&loaded.config);
    assert!(
        text.contains("a silent one (hung, packets lost) within 48 ms = (fall 2"),
        "{text}"
    );
    // A backend of its own settings is the slowest: named.
    let slow = replace(
        r#"check = "http://10.10.0.5/" }"#,
        r#"check = "http://10.10.0.5/", timeout = "100ms" }"#,
    );
    let text = describe(&parse(Path::new("w.toml"), &slow).unwrap().config);
    assert!(text.contains("within 123 ms (ws2's settings)"), "{text}");
}

#[test]
fn check_says_what_probing_costs_and_refuses_past_the_bound() {
    let loaded = parse(Path::new("w.toml"), EXAMPLE).unwrap();
    let text = describe(&loaded.config);
    assert!(
        text.contains("2 probe streams for 2 backends of 1 VIP") && text.contains("200 probes/s"),
        "{text}"
    );
    // 200 VIPs naming each its own checks (another path per VIP) every 10 ms:
    // 400 probe streams, 40,000 probes/s.
    let own = own_checks(&many_vips(200, "10ms"));
    let e = one_error(&own);
    assert!(
        e.starts_with("w.toml: vip: ") || e.contains("probes/s"),
        "{e}"
    );
    assert!(e.contains("40000 probes/s"), "{e}");
    // The same every second: 400 probes/s.
    assert!(errors(&own_checks(&many_vips(200, "1s"))).is_empty());
}

/// Gives every VIP of [`many_vips`] but the first checks of its own: the path names
/// the VIP (`http://10.10.0.4/100.65.0.1`), so no two VIPs share a probe.
fn own_checks(text: &str) -> String {
    let mut out = String::new();
    let mut prefix = String::new();
    for line in text.lines() {
        if line.starts_with("prefix = ") {
            prefix = line
                .strip_prefix("prefix = \"100.65.")
                .map(|p| p.trim_end_matches("/32\"").to_string())
                .unwrap_or_default();
        }
        let mut line = line.to_string();
        if !prefix.is_empty() {
            for ws in ["10.10.0.4", "10.10.0.5"] {
                line = line.replace(
                    &format!("check = \"http://{ws}/\""),
                    &format!("check = \"http://{ws}/100.65.{prefix}\""),
                );
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One probe per distinct check target: 1,000 VIPs on one pair of backends run two
/// probe streams (and pass at 10 ms, where 2,000 streams would be refused); another
/// URL, source or timing is another stream.
#[test]
fn identical_checks_share_one_probe_and_different_ones_do_not() {
    let shared = parse(Path::new("w.toml"), &many_vips(1000, "10ms"))
        .unwrap()
        .config;
    assert_eq!(probes::distinct(&shared).len(), 2);
    assert!((bounds::probes_per_second(&shared) - 200.0).abs() < 1e-6);
    let text = describe(&shared);
    assert!(
        text.contains("2 probe streams for 2000 backends of 1000 VIPs"),
        "{text}"
    );
    assert!(errors(&many_vips(1000, "10ms")).is_empty());
    // Another path, another stream; the same URL with another timing or source too.
    let mut c = shared.clone();
    c.vips.truncate(3);
    c.vips[1].backends[0].check = "http://10.10.0.4/other".into();
    c.vips[2].backends[0].interval = Some(std::time::Duration::from_millis(20));
    assert_eq!(probes::distinct(&c).len(), 4);
    c.vips[2].backends[0].interval = None;
    c.vips[2].backends[1].source = Some("10.10.0.7".parse().unwrap());
    assert_eq!(probes::distinct(&c).len(), 4);
    // The same check written by two VIPs with the same settings: shared.
    c.vips[2].backends[1].source = None;
    assert_eq!(probes::distinct(&c).len(), 3);
}

/// Azure Route Server takes 1,000 routes from each peer (4,000 is its limit on VMs
/// in the VNET): 1,000 VIPs pass, 1,001 are refused with what to do.
#[test]
fn azure_takes_a_thousand_vips_and_refuses_one_more() {
    let with_vips = |n: u32| {
        let mut t = replace("interval = \"10ms\"", "interval = \"10s\"").replacen(
            "[bgp]",
            "azure = true\n[vnet]\naddress_space = [\"10.10.0.0/16\"]\n\n[bgp]",
            1,
        );
        for i in 1..n {
            t.push_str(&format!(
                "\n[[vip]]\nprefix = \"100.65.{}.{}/32\"\nbackends = [\n  {{ name = \"ws1\", next_hop = \"10.10.0.4\", check = \"http://10.10.0.4/\" }},\n]\n",
                i / 250,
                i % 250 + 1
            ));
        }
        t
    };
    let thousand = with_vips(1000);
    assert!(errors(&thousand).is_empty(), "{:?}", errors(&thousand));
    let e = one_error(&with_vips(1001));
    assert!(
        e.contains("1001 VIPs")
            && e.contains("1000 routes from each peer")
            && e.contains("watcher pairs"),
        "{e}"
    );
}
