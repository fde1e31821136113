//! `hopwatch observe`: the seed's watch2, a BGP peer that only listens and prints
//! every route it receives with a microsecond timestamp.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use hopwatch_bgp::Prefix;
use hopwatch_bgp::message::PathAttributes;
use hopwatch_bgp_driver::speaker::DynamicPeers;
use hopwatch_bgp_driver::{DriverEvent, EventKind, PeerConfig, Speaker};
use hopwatch_daemon::cease::shutdown;
use hopwatch_daemon::json;
use hopwatch_daemon::signals::terminated;
use hopwatch_events::bgp::{Table as TableLine, TableRoute};
use hopwatch_events::{Event, Line};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::args::ObserveArgs;
use crate::bgp_setup::session_config;

/// What every peer currently announces: (peer, prefix) → (next hop, attributes).
#[derive(Default)]
struct Table(BTreeMap<(IpAddr, Prefix), (IpAddr, PathAttributes)>);

impl Table {
    fn apply(&mut self, e: &DriverEvent) {
        match &e.kind {
            EventKind::UpdateReceived { update, .. } => {
                for p in update.withdrawn_all() {
                    self.0.remove(&(e.peer, p));
                }
                for (p, nh) in update.announced() {
                    self.0.insert((e.peer, p), (nh, update.attributes.clone()));
                }
            }
            // Without graceful restart kept here, a session's routes go with it.
            EventKind::Down(_) => self.0.retain(|(peer, _), _| *peer != e.peer),
            _ => {}
        }
    }

    fn print(&self) {
        let routes = self
            .0
            .iter()
            .map(|((peer, prefix), (nh, attrs))| TableRoute {
                peer: *peer,
                prefix: prefix.to_string(),
                next_hop: *nh,
                attributes: json::attributes(attrs),
            })
            .collect();
        json::print(&Line::now(Event::Table(TableLine { routes })));
    }
}

/// Runs the observer until SIGTERM or Ctrl-C, then prints its table.
pub async fn run(args: ObserveArgs) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let template = session_config(&args.bgp, args.peer_as, !args.active);
    let dynamic = args.peers.is_empty().then(|| DynamicPeers {
        template: template.clone(),
    });
    let speaker = Speaker::new(tx, dynamic);
    for &address in &args.peers {
        speaker.add_peer(PeerConfig {
            address,
            port: args.bgp.port,
            local_address: args.listen.first().copied(),
            session: template.clone(),
            dynamic: false,
        });
    }
    if !args.active {
        let listen = if args.listen.is_empty() {
            vec![IpAddr::from([0, 0, 0, 0])]
        } else {
            args.listen.clone()
        };
        for ip in listen {
            let addr = SocketAddr::new(ip, args.bgp.port);
            speaker
                .listen(addr)
                .await
                .with_context(|| format!("listening on {addr}"))?;
        }
    }

    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut table = Table::default();
    let stop = terminated();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            why = &mut stop => {
                let why = why?;
                shutdown(&speaker, "hopwatch observe stopping").await;
                while let Ok(e) = rx.try_recv() {
                    table.apply(&e);
                    json::print_event(&e);
                }
                table.print();
                tracing::info!("stopped by {why}");
                return Ok(());
            }
            _ = usr1.recv() => table.print(),
            Some(e) = rx.recv() => {
                table.apply(&e);
                json::print_event(&e);
            }
        }
    }
}
