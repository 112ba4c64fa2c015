//! The sharded test actor and the set-up shared by the sharding churn test
//! (six nodes on loopback) and the sharding simulation (many nodes on the
//! simulated network).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, Node, ShardRegion, Sharding, ShardingOptions};
use tokio::time::Instant;

/// (entity, sender) → sequence numbers handled, in the order handled, on
/// any node.
pub(crate) type Log = Arc<Mutex<HashMap<(String, String), Vec<u64>>>>;

/// An entity that logs what each sender sent it.
pub(crate) struct Tally {
    id: String,
    log: Log,
}

#[actor]
impl Tally {
    #[message(remote)]
    pub(crate) fn record(&mut self, sender: String, seq: u64) {
        self.log.lock().unwrap().entry((self.id.clone(), sender)).or_default().push(seq);
    }
}

/// One node of the cluster, with its region of `Tally` entities.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) cluster: Cluster,
    pub(crate) node: Node,
    pub(crate) tallies: ShardRegion<Tally>,
}

impl Member {
    /// Leaves gracefully, allowing the hand-off `timeout`; returns how long
    /// the hand-off took.
    pub(crate) async fn leave(&self, timeout: Duration) -> Duration {
        let leaving = Instant::now();
        self.tallies.leave(timeout).await.unwrap();
        leaving.elapsed()
    }
}

/// What a graceful leave did, as the first member sees the placement.
pub(crate) struct Left {
    /// How long the hand-off took.
    pub(crate) handed_off: Duration,
    /// How long the others then took to settle.
    pub(crate) settled: Duration,
    /// The shards whose owner changed.
    pub(crate) moved: usize,
    /// The placement once settled.
    pub(crate) placement: Vec<Option<String>>,
}

/// `members[leaver]` leaves gracefully, allowing the hand-off `timeout`;
/// then `settle` waits for the others to settle without it.
pub(crate) async fn leave(
    members: &[Member],
    leaver: usize,
    timeout: Duration,
    settle: impl std::future::Future<Output = Duration>,
) -> Left {
    let before = members[0].tallies.placement();
    let handed_off = members[leaver].leave(timeout).await;
    let settled = settle.await;
    let placement = members[0].tallies.placement();
    Left { handed_off, settled, moved: moved(&before, &placement), placement }
}

/// Starts the cluster and the region on `node`, joining `seed` if given.
pub(crate) async fn member(
    node: Node,
    config: ClusterConfig,
    options: ShardingOptions,
    log: &Log,
    seed: Option<&str>,
) -> Member {
    let cluster = Cluster::start(&node, config).await.unwrap();
    let log = log.clone();
    let tallies =
        Sharding::start_with(&cluster, options, move |id: &str| Tally { id: id.to_owned(), log: log.clone() })
            .await
            .unwrap();
    if let Some(seed) = seed {
        cluster.join(&[seed]).await.unwrap();
    }
    Member { name: node.name().to_owned(), cluster, node, tallies }
}

/// Starts `count` members with `start(i, seed)`, the first with no seed
/// and the others joining through it, and waits until each sees all the
/// others, looking every `every`; fails past `bound`. Returns them, and
/// when the last had started.
pub(crate) async fn form<Fut: std::future::Future<Output = Member>>(
    count: usize,
    bound: Duration,
    every: Duration,
    mut start: impl FnMut(usize, Option<String>) -> Fut,
) -> (Vec<Member>, Instant) {
    let first = start(0, None).await;
    let seed = first.node.address().to_string();
    let mut members = vec![first];
    for i in 1..count {
        members.push(start(i, Some(seed.clone())).await);
    }
    let begin = Instant::now();
    while !members.iter().all(|m| m.cluster.members().len() == count - 1) {
        assert!(begin.elapsed() < bound, "the membership did not converge");
        tokio::time::sleep(every).await;
    }
    (members, begin)
}

/// Waits until every region of `members` sees `hosts` hosts, agrees on
/// the placement and holds nothing, looking every `every`; returns how
/// long it took. Past `bound`, fails naming the regions not settled.
pub(crate) async fn settle<M: Borrow<Member>>(
    members: &[M],
    hosts: usize,
    bound: Duration,
    every: Duration,
) -> Duration {
    let members: Vec<&Member> = members.iter().map(Borrow::borrow).collect();
    let start = Instant::now();
    loop {
        let first = members[0].tallies.placement();
        let settled = members.iter().all(|m| {
            let stats = m.tallies.stats();
            stats.hosts.len() == hosts && stats.is_settled() && stats.in_flight == 0 && m.tallies.placement() == first
        });
        if settled {
            return start.elapsed();
        }
        if start.elapsed() > bound {
            let seen: Vec<String> = members
                .iter()
                .filter(|m| !m.tallies.stats().is_settled() || m.tallies.stats().hosts.len() != hosts)
                .map(|m| format!("{} sees {} members: {:?}", m.name, m.cluster.members().len(), m.tallies.stats()))
                .collect();
            panic!("the regions did not settle on {hosts} hosts:\n{}", seen.join("\n"));
        }
        tokio::time::sleep(every).await;
    }
}

/// Shards per owner.
pub(crate) fn owned(placement: &[Option<String>]) -> HashMap<String, usize> {
    let mut owned = HashMap::new();
    for owner in placement.iter().flatten() {
        *owned.entry(owner.clone()).or_default() += 1;
    }
    owned
}

/// How many owners `placement` has, and the fewest and the most shards
/// one of them holds.
pub(crate) fn spread(placement: &[Option<String>]) -> (usize, usize, usize) {
    let load = owned(placement);
    (load.len(), load.values().copied().min().unwrap_or(0), load.values().copied().max().unwrap_or(0))
}

/// Shards whose owner differs between two placements.
pub(crate) fn moved(before: &[Option<String>], after: &[Option<String>]) -> usize {
    before.iter().zip(after).filter(|(a, b)| a != b).count()
}
