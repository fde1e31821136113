//! The `none` data plane: programs nothing, keeps the table and logs each change.
//!
//! For running the route server as a pure control plane (its RIB and programming log
//! still work) and for measuring the control plane without any data plane cost.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hopwatch_bgp::Prefix;

use crate::{DataPlane, Error, Kind, State, canonical};

/// The log-only data plane.
#[derive(Debug, Default)]
pub struct NonePlane {
    routes: BTreeMap<Prefix, Vec<IpAddr>>,
    shut_down: bool,
}

impl NonePlane {
    /// An empty table.
    pub fn new() -> Self {
        NonePlane::default()
    }
}

impl DataPlane for NonePlane {
    fn kind(&self) -> Kind {
        Kind::None
    }

    async fn program(&mut self, prefix: Prefix, next_hops: Vec<IpAddr>) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let next_hops = canonical(next_hops);
        tracing::info!(dataplane = "none", %prefix, ?next_hops, "program");
        self.routes.insert(prefix, next_hops);
        Ok(())
    }

    async fn remove(&mut self, prefix: Prefix) -> Result<(), Error> {
        if self.routes.remove(&prefix).is_some() {
            tracing::info!(dataplane = "none", %prefix, "remove");
        }
        Ok(())
    }

    fn describe(&self) -> State {
        State {
            kind: Kind::None,
            routes: self.routes.clone(),
            connections: BTreeMap::new(),
        }
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        tracing::info!(dataplane = "none", routes = self.routes.len(), "shutdown");
        self.routes.clear();
        self.shut_down = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_none_plane_keeps_the_table_it_is_given() {
        let mut plane = NonePlane::new();
        let vip: Prefix = "10.10.15.15/32".parse().expect("literal");
        let hops: Vec<IpAddr> = vec!["10.10.0.5".parse().expect("literal")];
        plane
            .program(vip, hops.clone())
            .await
            .expect("none never fails");
        assert_eq!(plane.describe().routes.get(&vip), Some(&hops));
        plane.remove(vip).await.expect("none never fails");
        assert!(plane.describe().routes.is_empty());
        plane.shutdown().await.expect("none never fails");
        assert!(matches!(
            plane.program(vip, hops).await,
            Err(Error::ShutDown)
        ));
    }
}
