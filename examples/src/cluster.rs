//! What the cluster examples (`cluster_kv`, `cluster_workers`,
//! `sharded_bank`) share: an actor that prints the membership events its
//! node sees, and failure detection fast enough for a demonstration on one
//! machine.

use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{ClusterConfig, ClusterEvent};

/// Prints the membership events the node it runs on sees; subscribe it
/// with `cluster.subscribe(node.system().spawn(Watcher).recipient())`.
#[derive(Debug)]
pub struct Watcher;

impl Actor for Watcher {
    type Error = std::convert::Infallible;
}

impl Handler<ClusterEvent> for Watcher {
    async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) {
        match event {
            ClusterEvent::NodeUp(m) => println!("event: {} is up", m.name),
            ClusterEvent::NodeDown(m) => println!("event: {} is down", m.name),
            ClusterEvent::NodeLeft(m) => println!("event: {} left", m.name),
            other => println!("event: {other:?}"),
        }
    }
}

/// Probes every 200 ms, so that a killed node is reported down within
/// about a second.
pub fn config() -> ClusterConfig {
    ClusterConfig {
        probe_period: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        suspicion_timeout: Duration::from_millis(800),
        ..ClusterConfig::default()
    }
}
