//! Sharding workloads: three nodes in one process over loopback TCP, each
//! hosting [`Sink`] as a sharded entity type (256 shards), addressed from
//! node `a`, so that about two thirds of the entities live on another node.
//!
//! The entity is the remote benches' [`Sink`], so that its messages (a
//! 32-byte tell, `ping(n) -> n + 1`) are byte for byte those of the plain
//! remote actor of [`RemotePair`](crate::remote::RemotePair), the baseline:
//! the difference is the region's routing, custody and acknowledgements.
//!
//! Every workload checks its result: a tell burst ends with a barrier that
//! asks every entity for its totals (behind the tells, in per-sender order)
//! and compares them with the count and sum sent; every ask's reply is
//! checked.

use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, Entity, Node, ShardRegion, Sharding, ShardingOptions};
use futures::future::join_all;

use crate::remote::{Data, Received, Sink, SinkClient, payload, remote_asks};

/// Shards of the region.
pub const SHARDS: u32 = 256;

/// Entities the warm workloads spread over.
pub const ENTITIES: usize = 100;

/// Tells per iteration of the tell workload (200 to each entity).
pub const SHARD_TELLS_PER_ITER: u64 = 20_000;

impl Entity for Sink {
    fn from_id(_id: &str) -> Self {
        Sink::default()
    }
}

/// Three cluster members hosting [`Sink`] entities, and [`ENTITIES`] warm
/// entities as node `a` sees them.
#[derive(Debug)]
pub struct ShardedCluster {
    nodes: Vec<(Node, Cluster, ShardRegion<Sink>)>,
    /// The warm entities `w-0` .. `w-99`, addressed from node `a`.
    pub entities: Vec<ActorRef<Sink>>,
}

impl ShardedCluster {
    /// Starts nodes `a`, `b` and `c` on `127.0.0.1:0` with their regions
    /// (passivation off: warm entities stay warm and keep their totals;
    /// entities created by the cold workload stay too), joins `b` and `c`
    /// through `a`, waits until the three regions agree on the placement,
    /// and starts the warm entities.
    ///
    /// # Panics
    ///
    /// If a node does not start, or the regions do not settle in 30 s.
    pub async fn start() -> ShardedCluster {
        let options = ShardingOptions::default().shards(SHARDS).passivate_after(None);
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            let node =
                Node::builder(ActorSystem::new()).name(name).secret("sharding bench").start().await.expect("starts");
            let cluster = Cluster::start(&node, ClusterConfig::default()).await.expect("the cluster starts");
            let region = Sharding::start::<Sink>(&cluster, options.clone()).await.expect("the region starts");
            nodes.push((node, cluster, region));
        }
        let seed = nodes[0].0.address().to_string();
        for (_, cluster, _) in &nodes[1..] {
            cluster.join(&[&seed]).await.expect("joins a");
        }
        let start = tokio::time::Instant::now();
        while !settled(&nodes) {
            assert!(start.elapsed() < Duration::from_secs(30), "the regions did not settle");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let region = &nodes[0].2;
        let entities: Vec<_> = (0..ENTITIES).map(|i| region.entity(&format!("w-{i}"))).collect();
        join_all(entities.iter().map(|e| remote_asks(e, 1, 0))).await;
        ShardedCluster { nodes, entities }
    }

    /// The region on node `a`.
    pub fn region(&self) -> &ShardRegion<Sink> {
        &self.nodes[0].2
    }

    /// Whether each shard is owned by another node than `a`, by shard.
    pub fn remote_shards(&self) -> Vec<bool> {
        let a = self.region().node().to_owned();
        self.region().placement().into_iter().map(|owner| owner.is_some_and(|o| o != a)).collect()
    }

    /// The warm entities that live on another node than `a`.
    pub fn remote_entities(&self) -> Vec<ActorRef<Sink>> {
        let remote = self.remote_shards();
        let region = self.region();
        (0..ENTITIES)
            .map(|i| format!("w-{i}"))
            .filter(|id| remote[region.shard_of(id) as usize])
            .map(|id| region.entity(&id))
            .collect()
    }

    /// Shards per node and entities running per node, in node order.
    pub fn spread(&self) -> Vec<(usize, usize)> {
        self.nodes.iter().map(|(_, _, r)| r.stats()).map(|stats| (stats.shards_owned, stats.entities_active)).collect()
    }

    /// Every warm entity's totals.
    pub async fn totals(&self) -> Vec<Received> {
        totals_of(&self.entities).await
    }

    /// Stops the three nodes and their systems.
    pub async fn shutdown(self) {
        for (node, _, _) in self.nodes.into_iter().rev() {
            node.shutdown().await;
            node.system().shutdown().await;
        }
    }
}

fn settled(nodes: &[(Node, Cluster, ShardRegion<Sink>)]) -> bool {
    let first = nodes[0].2.placement();
    nodes.iter().all(|(_, _, r)| {
        let stats = r.stats();
        stats.hosts.len() == nodes.len() && stats.is_settled() && stats.in_flight == 0 && r.placement() == first
    })
}

/// `n` tells spread evenly over `entities` (rounds `0..n / len`, each
/// entity told its round's payload), then the barrier: every entity's
/// totals, checked against `before`. Returns the new totals.
///
/// # Panics
///
/// If a send fails, or an entity's totals are wrong.
pub async fn sharded_tell_burst(entities: &[ActorRef<Sink>], n: u64, before: Vec<Received>) -> Vec<Received> {
    let rounds = n / entities.len() as u64;
    for round in 0..rounds {
        for entity in entities {
            entity.tell(Data { bytes: payload(round) }).await.expect("the tell is accepted");
        }
    }
    let after = totals_of(entities).await;
    for (before, after) in before.iter().zip(&after) {
        assert_eq!(*after, before.after(rounds), "entity totals after {rounds} rounds of tells");
    }
    after
}

/// Each entity's totals, asked of all at once.
async fn totals_of(entities: &[ActorRef<Sink>]) -> Vec<Received> {
    let answers = join_all(entities.iter().map(|e| e.totals())).await;
    answers.into_iter().map(|a| a.expect("the entity answers")).map(|(count, sum)| Received { count, sum }).collect()
}

/// `n` sequential asks numbered from `base`, the ask numbered `k` to
/// `entities[k % len]`: one in flight; checks every reply.
pub async fn sharded_asks(entities: &[ActorRef<Sink>], n: u64, base: u64) {
    for k in base..base + n {
        remote_asks(&entities[k as usize % entities.len()], 1, k).await;
    }
}

/// One asker per element of `targets`, all polled at once, each sending
/// `per_target` sequential asks: up to `targets.len()` asks in flight.
/// `targets` may repeat one actor (the plain remote baseline). Checks
/// every reply.
pub async fn concurrent_asks(targets: &[ActorRef<Sink>], per_target: u64) {
    join_all((0u64..).zip(targets).map(|(k, target)| remote_asks(target, per_target, k * per_target))).await;
}

/// One ask to the entity `id` (cold if the id was never used), checked.
pub async fn ask_once(region: &ShardRegion<Sink>, id: &str, n: u64) {
    remote_asks(&region.entity(id), 1, n).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{RemotePair, Transport};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sharded_path_checks_out() {
        tokio::time::timeout(Duration::from_secs(60), async {
            let cluster = ShardedCluster::start().await;
            let spread = cluster.spread();
            assert_eq!(spread.iter().map(|(shards, _)| shards).sum::<usize>(), SHARDS as usize);
            assert!(spread.iter().all(|&(shards, entities)| shards > 0 && entities > 0), "{spread:?}");
            let before = cluster.totals().await;
            let after = sharded_tell_burst(&cluster.entities, 2_000, before).await;
            assert_eq!(cluster.totals().await, after);
            sharded_asks(&cluster.entities, 200, 7).await;
            let remote = cluster.remote_entities();
            assert!(!remote.is_empty() && remote.len() < ENTITIES, "{} remote", remote.len());
            sharded_asks(&remote, 100, 0).await;
            concurrent_asks(&cluster.entities[..8], 5).await;
            for n in 0..10 {
                ask_once(cluster.region(), &format!("cold-{n}"), n).await;
            }
            cluster.shutdown().await;

            let pair = RemotePair::start(Transport::Tcp).await;
            concurrent_asks(&vec![pair.remote.clone(); 8], 5).await;
            pair.shutdown().await;
        })
        .await
        .expect("in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "entity totals")]
    async fn a_short_burst_is_caught() {
        let cluster = ShardedCluster::start().await;
        let mut before = cluster.totals().await;
        // Claims one tell more than the first entity has seen.
        before[0].count += 1;
        sharded_tell_burst(&cluster.entities, 1_000, before).await;
    }
}
