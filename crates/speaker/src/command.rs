//! The text commands `hopwatch speak` reads, in ExaBGP's syntax, so that scripts
//! written for ExaBGP's API keep working:
//!
//! ```text
//! announce route 100.64.0.1/32 next-hop 10.10.0.4 [med 10] [as-path [65010 65020]]
//!                [community [65001:1 no-export]] [large-community [65001:1:2]]
//!                [origin igp|egp|incomplete] [local-preference 200]
//! withdraw route 100.64.0.1/32
//! announce attributes next-hop 10.10.0.4 [attributes] nlri 100.64.0.1/32 100.64.0.2/32 ...
//! withdraw attributes nlri 100.64.0.1/32 100.64.0.2/32 ...
//! ```
//!
//! `announce attributes ... nlri` (ExaBGP's bulk form) gives many prefixes one set
//! of attributes in one command: one batch, which the driver sends as few UPDATEs
//! (about 800 IPv4 /32s a message), where a line per prefix is an UPDATE per line.
//!
//! Parsing is pure and total: every input gives a [`Command`] or an error that
//! names the offending word; nothing is half-applied. A next hop must be one a
//! router can forward to ([`unicast_next_hop`]), and a route must fit one BGP
//! message toward any peer ([`check_sendable`]): what passes both can always be sent.

use std::net::IpAddr;

use hopwatch_bgp::message::MAX_MESSAGE_LEN;
use hopwatch_bgp::message::{Community, LargeCommunity, Origin};
use hopwatch_bgp::{Asn, Prefix};
use hopwatch_bgp_driver::Route;
use hopwatch_bgp_driver::rib_out::Change;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A route change for every peer.
    Change(Change),
    /// Route changes for every peer, made at once (`announce attributes ... nlri`,
    /// `withdraw attributes ... nlri`): sent packed.
    Batch(Vec<Change>),
}

impl Command {
    /// The changes this command makes, in order.
    pub fn into_changes(self) -> Vec<Change> {
        match self {
            Command::Change(c) => vec![c],
            Command::Batch(changes) => changes,
        }
    }
}

/// Splits a line into words, with `[` and `]` as words of their own.
fn tokenize(line: &str) -> Vec<String> {
    line.replace('[', " [ ")
        .replace(']', " ] ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Takes one value or a bracketed list of values after a keyword.
fn take_list(words: &[String], i: &mut usize, key: &str) -> Result<Vec<String>, String> {
    let first = words
        .get(*i)
        .ok_or_else(|| format!("`{key}` needs a value"))?;
    if first != "[" {
        *i += 1;
        return Ok(vec![first.clone()]);
    }
    let mut out = Vec::new();
    *i += 1;
    loop {
        let w = words
            .get(*i)
            .ok_or_else(|| format!("`{key} [` is not closed with `]`"))?;
        *i += 1;
        if w == "]" {
            return Ok(out);
        }
        out.push(w.clone());
    }
}

/// Parses the part after `announce route`: `PREFIX next-hop ADDR [attributes]`.
pub fn parse_route(spec: &str) -> Result<Route, String> {
    let words = tokenize(spec);
    let prefix = words
        .first()
        .ok_or("expected a prefix, e.g. `100.64.0.1/32 next-hop 10.10.0.4`")?
        .parse()?;
    let mut next_hop: Option<IpAddr> = None;
    let mut route = Route::new(prefix, IpAddr::from([0, 0, 0, 0]));
    let mut i = 1;
    while i < words.len() {
        let key = words[i].as_str();
        i += 1;
        let value = |i: &mut usize| -> Result<String, String> {
            let v = words
                .get(*i)
                .cloned()
                .ok_or_else(|| format!("`{key}` needs a value"))?;
            *i += 1;
            Ok(v)
        };
        match key {
            "next-hop" => {
                let v = value(&mut i)?;
                next_hop = Some(
                    v.parse()
                        .map_err(|_| format!("next-hop {v:?} is not an IP address"))?,
                );
            }
            "med" => {
                let v = value(&mut i)?;
                route.med = Some(
                    v.parse()
                        .map_err(|_| format!("med {v:?} is not a number"))?,
                );
            }
            "local-preference" => {
                let v = value(&mut i)?;
                route.local_pref = Some(
                    v.parse()
                        .map_err(|_| format!("local-preference {v:?} is not a number"))?,
                );
            }
            "origin" => {
                route.origin = match value(&mut i)?.to_ascii_lowercase().as_str() {
                    "igp" => Origin::Igp,
                    "egp" => Origin::Egp,
                    "incomplete" => Origin::Incomplete,
                    o => return Err(format!("origin {o:?}: expected igp, egp or incomplete")),
                }
            }
            "as-path" => {
                route.as_path = take_list(&words, &mut i, key)?
                    .iter()
                    .map(|a| a.parse::<Asn>())
                    .collect::<Result<_, _>>()?;
            }
            "community" => {
                route.communities = take_list(&words, &mut i, key)?
                    .iter()
                    .map(|c| c.parse::<Community>())
                    .collect::<Result<_, _>>()?;
            }
            "large-community" => {
                route.large_communities = take_list(&words, &mut i, key)?
                    .iter()
                    .map(|c| c.parse::<LargeCommunity>())
                    .collect::<Result<_, _>>()?;
            }
            other => {
                return Err(format!(
                    "unknown word {other:?}: expected next-hop, med, as-path, community, \
                     large-community, origin or local-preference"
                ));
            }
        }
    }
    let nh = next_hop.ok_or_else(|| format!("route {prefix} has no next-hop"))?;
    unicast_next_hop(nh)?;
    if nh.is_ipv4() != prefix.addr().is_ipv4() {
        return Err(format!(
            "next-hop {nh} is not of the same family as {prefix}"
        ));
    }
    route.next_hop = nh;
    Ok(route)
}

/// Refuses an address that cannot be a unicast next hop: 0.0.0.0 and ::, the
/// broadcast 255.255.255.255, multicast (224.0.0.0/4, ff00::/8) and the reserved
/// class E (240.0.0.0/4). A peer would ignore such a route (RFC 4271 6.3 makes it
/// a semantic error), so the speaker would look healthy while announcing nothing.
pub fn unicast_next_hop(nh: IpAddr) -> Result<(), String> {
    let why = match nh {
        IpAddr::V4(a) if a.is_unspecified() => Some("unspecified"),
        IpAddr::V4(a) if a.is_broadcast() => Some("broadcast"),
        IpAddr::V4(a) if a.is_multicast() => Some("multicast"),
        IpAddr::V4(a) if a.octets()[0] >= 240 => Some("reserved, class E"),
        IpAddr::V6(a) if a.is_unspecified() => Some("unspecified"),
        IpAddr::V6(a) if a.is_multicast() => Some("multicast"),
        _ => None,
    };
    match why {
        Some(why) => Err(format!(
            "next-hop {nh} cannot be a unicast next hop ({why})"
        )),
        None => Ok(()),
    }
}

/// Refuses a change whose UPDATE would not fit one BGP message toward some peer
/// of a speaker with `local_as` (more than 4,096 octets once our AS is prepended
/// or LOCAL_PREF added). Sent anyway, the peer would answer with NOTIFICATION 1/2
/// and drop every route of the session; kept as the current route, it would do so
/// again at every reconnect. So it changes nothing.
pub fn check_sendable(change: &Change, local_as: Asn) -> Result<(), String> {
    match change {
        Change::Announce(route) => route.fits(local_as).map_err(|e| {
            format!(
                "route {} refused: its UPDATE would be {} octets, over the {MAX_MESSAGE_LEN} \
                 a BGP message may hold (fewer communities or a shorter as-path)",
                route.prefix, e.len
            )
        }),
        Change::Withdraw(_) => Ok(()),
    }
}

/// Parses the part after `announce attributes` or `withdraw attributes`:
/// `[attributes] nlri PREFIX...`. Announced, every prefix gets the attributes and
/// must be of the next hop's family; withdrawn, the attributes mean nothing (as in
/// ExaBGP) and are ignored.
pub fn parse_bulk(spec: &str, announce: bool) -> Result<Vec<Change>, String> {
    let words = tokenize(spec);
    let at = words
        .iter()
        .position(|w| w == "nlri")
        .ok_or("expected `nlri PREFIX...` after the attributes")?;
    let prefixes = words[at + 1..]
        .iter()
        .map(|w| w.parse::<Prefix>())
        .collect::<Result<Vec<_>, _>>()?;
    let first = *prefixes.first().ok_or("`nlri` needs at least one prefix")?;
    if !announce {
        return Ok(prefixes.into_iter().map(Change::Withdraw).collect());
    }
    let attributes = words[..at].join(" ");
    let template = parse_route(&format!("{first} {attributes}"))?;
    prefixes
        .into_iter()
        .map(|prefix| {
            if prefix.family() != first.family() {
                return Err(format!(
                    "next-hop {} is not of the same family as {prefix}",
                    template.next_hop
                ));
            }
            Ok(Change::Announce(Route {
                prefix,
                ..template.clone()
            }))
        })
        .collect()
}

/// Parses one command line.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim_start();
    let (noun, spec) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match (verb, noun) {
        ("announce", "route") => Ok(Command::Change(Change::Announce(parse_route(spec)?))),
        ("withdraw", "route") => {
            // ExaBGP accepts attributes after a withdrawn prefix; they mean nothing.
            let prefix = spec
                .split_whitespace()
                .next()
                .ok_or("withdraw route needs a prefix")?;
            Ok(Command::Change(Change::Withdraw(prefix.parse()?)))
        }
        ("announce", "attributes") => Ok(Command::Batch(parse_bulk(spec, true)?)),
        ("withdraw", "attributes") => Ok(Command::Batch(parse_bulk(spec, false)?)),
        _ => Err(format!(
            "unknown command {line:?}: expected `announce route PREFIX next-hop ADDR ...`, \
             `withdraw route PREFIX`, `announce attributes next-hop ADDR ... nlri PREFIX...` \
             or `withdraw attributes nlri PREFIX...`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_with_every_attribute_parses() {
        let Command::Change(Change::Announce(r)) = parse(
            "announce route 100.64.0.1/32 next-hop 10.10.0.5 med 10 as-path [65010 65020] \
             community [65001:1 no-export] large-community 65001:1:2 origin egp local-preference 200",
        )
        .unwrap() else {
            panic!("not an announce")
        };
        assert_eq!(r.prefix.to_string(), "100.64.0.1/32");
        assert_eq!(r.next_hop.to_string(), "10.10.0.5");
        assert_eq!(r.med, Some(10));
        assert_eq!(r.as_path, vec![Asn(65010), Asn(65020)]);
        assert_eq!(r.communities.len(), 2);
        assert_eq!(r.large_communities[0].to_string(), "65001:1:2");
        assert_eq!(r.origin, Origin::Egp);
        assert_eq!(r.local_pref, Some(200));
    }

    #[test]
    fn bracket_spacing_does_not_matter() {
        let a = parse("announce route 10.0.0.0/8 next-hop 1.2.3.4 as-path [ 1 2 ]").unwrap();
        let b = parse("announce route 10.0.0.0/8 next-hop 1.2.3.4 as-path [1 2]").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn withdraw_parses_and_ignores_trailing_attributes() {
        let c = parse("withdraw route 100.64.0.1/32 next-hop 10.10.0.4").unwrap();
        assert_eq!(
            c,
            Command::Change(Change::Withdraw("100.64.0.1/32".parse().unwrap()))
        );
    }

    #[test]
    fn a_route_too_long_for_one_message_is_refused_and_one_that_fits_is_not() {
        let many: Vec<String> = (0..2000).map(|i| format!("1:{i}")).collect();
        let line = format!(
            "announce route 100.64.0.1/32 next-hop 10.10.0.5 community [{}]",
            many.join(" ")
        );
        let Command::Change(change) = parse(&line).unwrap() else {
            panic!("not one change")
        };
        let err = check_sendable(&change, Asn(65001)).unwrap_err();
        assert!(
            err.contains("4096") && err.contains("100.64.0.1/32"),
            "{err}"
        );
        let Command::Change(ok) =
            parse("announce route 100.64.0.1/32 next-hop 10.10.0.5 as-path [1 2 3]").unwrap()
        else {
            panic!("not one change")
        };
        assert!(check_sendable(&ok, Asn(65001)).is_ok());
        let Command::Change(w) = parse("withdraw route 100.64.0.1/32").unwrap() else {
            panic!("not one change")
        };
        assert!(check_sendable(&w, Asn(65001)).is_ok());
    }

    #[test]
    fn announce_attributes_gives_every_prefix_of_nlri_the_same_route() {
        let line = "announce attributes next-hop 10.10.0.5 med 10 community [65001:1] \
                    nlri 100.64.0.1/32 100.64.0.2/32 100.64.0.3/32";
        let Command::Batch(changes) = parse(line).unwrap() else {
            panic!("not a batch")
        };
        let want: Vec<Change> = (1..=3)
            .map(|i| {
                let spec = format!("100.64.0.{i}/32 next-hop 10.10.0.5 med 10 community [65001:1]");
                Change::Announce(parse_route(&spec).unwrap())
            })
            .collect();
        assert_eq!(changes, want);
    }

    #[test]
    fn withdraw_attributes_withdraws_every_prefix_of_nlri() {
        let c = parse("withdraw attributes next-hop 10.10.0.5 nlri 100.64.0.1/32 2001:db8::/32")
            .unwrap();
        assert_eq!(
            c.into_changes(),
            vec![
                Change::Withdraw("100.64.0.1/32".parse().unwrap()),
                Change::Withdraw("2001:db8::/32".parse().unwrap()),
            ]
        );
    }

    #[test]
    fn a_thousand_vips_fit_one_command_line() {
        let vips: Vec<String> = (0..1000)
            .map(|i| format!("100.64.{}.{}/32", i / 256, i % 256))
            .collect();
        let line = format!(
            "announce attributes next-hop 10.10.0.5 nlri {}",
            vips.join(" ")
        );
        assert!(line.len() < crate::speak::MAX_LINE);
        assert_eq!(parse(&line).unwrap().into_changes().len(), 1000);
    }

    #[test]
    fn bad_bulk_commands_name_what_is_wrong() {
        for (line, needle) in [
            ("announce attributes next-hop 10.10.0.5", "nlri"),
            (
                "announce attributes next-hop 10.10.0.5 nlri",
                "at least one",
            ),
            ("announce attributes nlri 100.64.0.1/32", "no next-hop"),
            (
                "announce attributes next-hop 10.10.0.5 nlri 100.64.0.1/32 banana",
                "banana",
            ),
            (
                "announce attributes next-hop 10.10.0.5 nlri 100.64.0.1/32 2001:db8::/32",
                "same family",
            ),
            ("withdraw attributes nlri", "at least one"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(needle), "{line:?} gave {err:?}");
        }
    }

    #[test]
    fn loopback_and_ordinary_next_hops_are_unicast() {
        for nh in [
            "10.10.0.4",
            "127.21.0.4",
            "223.255.255.1",
            "2001:db8::4",
            "fe80::1",
        ] {
            assert!(unicast_next_hop(nh.parse().unwrap()).is_ok(), "{nh}");
        }
    }

    #[test]
    fn bad_commands_name_what_is_wrong() {
        for (line, needle) in [
            ("announce route 100.64.0.1/32", "no next-hop"),
            ("announce route 100.64.0.1/33 next-hop 1.1.1.1", "/33"),
            ("announce route 100.64.0.1/32 next-hop banana", "banana"),
            (
                "announce route 100.64.0.1/32 next-hop 0.0.0.0",
                "not be a unicast",
            ),
            (
                "announce route 100.64.0.1/32 next-hop 255.255.255.255",
                "broadcast",
            ),
            (
                "announce route 100.64.0.1/32 next-hop 224.0.0.5",
                "multicast",
            ),
            ("announce route 100.64.0.1/32 next-hop 240.0.0.1", "class E"),
            ("announce route 2001:db8::/32 next-hop ::", "unspecified"),
            ("announce route 2001:db8::/32 next-hop ff02::1", "multicast"),
            (
                "announce route 100.64.0.1/32 next-hop 1.1.1.1 med",
                "needs a value",
            ),
            (
                "announce route 100.64.0.1/32 next-hop 1.1.1.1 as-path [1 2",
                "not closed",
            ),
            ("announce route 100.64.0.1/32 next-hop ::1", "same family"),
            (
                "announce route 100.64.0.1/32 next-hop 1.1.1.1 colour blue",
                "colour",
            ),
            ("shout route", "unknown command"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(needle), "{line:?} gave {err:?}");
        }
    }
}
