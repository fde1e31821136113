//! Config tests: the example is accepted, and each kind of mistake gets one clear
//! message naming the file, the line and the key.

use std::path::Path;

use super::*;

const EXAMPLE: &str = include_str!("../../../../examples/watcher.toml");

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
        e.starts_with("w.toml:34: failover.pre_empt: unknown field"),
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
