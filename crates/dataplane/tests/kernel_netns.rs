//! The kernel data plane in network namespaces the test creates (see
//! `support/netns.rs`): `ip route` in the router namespace follows program, replace,
//! ECMP, remove and shutdown; routes hopwatch did not install are left alone.
//!
//! Needs root; fails without it unless `HOPWATCH_INTEROP=skip` is set.

// Integration tests: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;

use hopwatch_dataplane::{DataPlane, KernelPlane, Prefix};
use support::netns::{gateways, ip, route_get, routes_for, run_in_netns};

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn prefix(s: &str) -> Prefix {
    s.parse().unwrap()
}

#[test]
fn the_vip_route_follows_program_replace_ecmp_and_remove() {
    run_in_netns(
        "the_vip_route_follows_program_replace_ecmp_and_remove",
        || async {
            let vip = prefix("100.64.0.1/32");
            let mut plane = KernelPlane::new().unwrap();
            assert_eq!(route_get("100.64.0.1"), None, "no route before programming");

            plane.program(vip, vec![addr("10.99.0.2")]).await.unwrap();
            assert_eq!(gateways("100.64.0.1/32"), ["10.99.0.2"]);
            assert_eq!(route_get("100.64.0.1").as_deref(), Some("10.99.0.2"));

            plane.program(vip, vec![addr("10.99.0.3")]).await.unwrap();
            assert_eq!(
                gateways("100.64.0.1/32"),
                ["10.99.0.3"],
                "replaced, not added"
            );
            assert_eq!(route_get("100.64.0.1").as_deref(), Some("10.99.0.3"));

            plane
                .program(vip, vec![addr("10.99.0.3"), addr("10.99.0.2")])
                .await
                .unwrap();
            assert_eq!(routes_for("100.64.0.1/32").len(), 1, "one multipath route");
            assert_eq!(gateways("100.64.0.1/32"), ["10.99.0.2", "10.99.0.3"]);
            let got = route_get("100.64.0.1").unwrap();
            assert!(got == "10.99.0.2" || got == "10.99.0.3", "{got}");

            plane.program(vip, vec![addr("10.99.0.2")]).await.unwrap();
            assert_eq!(
                gateways("100.64.0.1/32"),
                ["10.99.0.2"],
                "back from ECMP to one"
            );

            plane.program(vip, vec![]).await.unwrap();
            assert!(
                routes_for("100.64.0.1/32").is_empty(),
                "an empty set has no route"
            );
            plane.program(vip, vec![addr("10.99.0.3")]).await.unwrap();
            assert_eq!(gateways("100.64.0.1/32"), ["10.99.0.3"]);

            plane.remove(vip).await.unwrap();
            assert!(routes_for("100.64.0.1/32").is_empty());
            assert_eq!(route_get("100.64.0.1"), None);
            assert!(plane.describe().routes.is_empty());
            plane.shutdown().await.unwrap();
        },
    );
}

#[test]
fn an_ipv6_vip_gets_a_gateway_then_an_ecmp_set_and_goes_on_shutdown() {
    run_in_netns(
        "an_ipv6_vip_gets_a_gateway_then_an_ecmp_set_and_goes_on_shutdown",
        || async {
            let vip = prefix("fd00:64::1/128");
            let mut plane = KernelPlane::new().unwrap();
            plane.program(vip, vec![addr("fd00:99::2")]).await.unwrap();
            assert_eq!(gateways("fd00:64::1/128"), ["fd00:99::2"]);
            plane
                .program(vip, vec![addr("fd00:99::2"), addr("fd00:99::3")])
                .await
                .unwrap();
            assert_eq!(gateways("fd00:64::1/128"), ["fd00:99::2", "fd00:99::3"]);
            plane.program(vip, vec![addr("fd00:99::3")]).await.unwrap();
            assert_eq!(gateways("fd00:64::1/128"), ["fd00:99::3"]);
            plane.shutdown().await.unwrap();
            assert!(routes_for("fd00:64::1/128").is_empty());
        },
    );
}

#[test]
fn shutdown_removes_every_hopwatch_route_and_leaves_the_others() {
    run_in_netns(
        "shutdown_removes_every_hopwatch_route_and_leaves_the_others",
        || async {
            ip(&[
                "route",
                "add",
                "100.64.7.7/32",
                "via",
                "10.99.0.2",
                "proto",
                "static",
            ]);
            let mut plane = KernelPlane::new().unwrap();
            for i in 1..=50u8 {
                let vip = prefix(&format!("100.64.1.{i}/32"));
                let hops = if i % 2 == 0 {
                    vec![addr("10.99.0.2"), addr("10.99.0.3")]
                } else {
                    vec![addr("10.99.0.3")]
                };
                plane.program(vip, hops).await.unwrap();
            }
            // Removing a prefix hopwatch never programmed does not touch its route.
            plane.remove(prefix("100.64.7.7/32")).await.unwrap();
            assert_eq!(
                ip(&["route", "show", "proto", "241"])
                    .matches("100.64.1.")
                    .count(),
                50
            );
            plane.shutdown().await.unwrap();
            assert_eq!(ip(&["route", "show", "proto", "241"]), "");
            assert_eq!(route_get("100.64.7.7").as_deref(), Some("10.99.0.2"));
        },
    );
}

#[test]
fn routes_left_by_a_crashed_run_are_removed_as_stale() {
    run_in_netns(
        "routes_left_by_a_crashed_run_are_removed_as_stale",
        || async {
            ip(&[
                "route",
                "add",
                "100.64.9.9/32",
                "via",
                "10.99.0.2",
                "proto",
                "241",
            ]);
            ip(&[
                "route",
                "add",
                "100.64.7.7/32",
                "via",
                "10.99.0.2",
                "proto",
                "static",
            ]);
            let mut plane = KernelPlane::new().unwrap();
            plane
                .program(prefix("100.64.0.1/32"), vec![addr("10.99.0.3")])
                .await
                .unwrap();
            assert_eq!(plane.remove_stale_routes().await.unwrap(), 1);
            assert!(routes_for("100.64.9.9/32").is_empty());
            assert_eq!(
                gateways("100.64.0.1/32"),
                ["10.99.0.3"],
                "its own route stays"
            );
            assert_eq!(route_get("100.64.7.7").as_deref(), Some("10.99.0.2"));
            plane.shutdown().await.unwrap();
        },
    );
}
