//! A counter for tests that need a remote actor. On the wire it adds and
//! counts its adds (`Counter::Add`, `Counter::Hits`), naps
//! (`Counter::Nap`), records numbered messages per sender and reports
//! whether each sender's came in order (`Counter::Record`,
//! `Counter::Stats`) and panics on request (`Counter::Boom`); resetting and
//! reading its total are local only (`Counter::Reset`, `Counter::Total` are
//! refused to other nodes).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::Node;

#[derive(Default)]
pub(crate) struct Counter {
    total: u64,
    /// How many `Add`s it has handled.
    hits: u64,
    /// The next sequence number expected from each sender.
    next: HashMap<u32, u64>,
    in_order: bool,
    received: u64,
    /// Every this many recorded messages, the handler sleeps a millisecond:
    /// a slow consumer (never, at 0).
    slow_every: u64,
    /// Counts the recorded messages, readable from outside the actor.
    delivered: Option<Arc<AtomicU64>>,
}

/// A counter spawned on node `on` and registered there as `counter`, and
/// the reference to it that node `from` looks up through `peer`.
pub(crate) async fn serve(on: &Node, from: &Node, peer: &str) -> (ActorRef<Counter>, ActorRef<Counter>) {
    let counter = super::spawn_named(on, "counter", Counter::default());
    let remote = from.lookup(peer, "counter").await.unwrap();
    (counter, remote)
}

/// The set-up most two-node tests start from: node `b` connected to node
/// `a` (known to `b` as `peer`), and a counter served by `a` (`counter`)
/// with `b`'s reference to it (`remote`).
pub(crate) struct Served {
    pub(crate) a: Node,
    pub(crate) b: Node,
    pub(crate) peer: String,
    pub(crate) counter: ActorRef<Counter>,
    pub(crate) remote: ActorRef<Counter>,
}

impl Served {
    /// Connects `b` to `a` and serves a counter on `a`.
    pub(crate) async fn between(a: Node, b: Node) -> Self {
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let (counter, remote) = serve(&a, &b, &peer).await;
        Served { a, b, peer, counter, remote }
    }
}

/// Checks that an ask pending at `remote` (a counter served by node `a`)
/// fails with `NodeDown`, fast, once `a` shuts down.
pub(crate) async fn pending_ask_fails_fast_when_its_node_goes(a: &Node, remote: &ActorRef<Counter>) {
    let slow = super::spawn_ask(remote, |remote| async move { remote.nap(60_000).await });
    // Wait until the ask is being handled on a.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    a.shutdown().await;
    let err = slow.await.unwrap().unwrap_err();
    assert!(err.is_node_down(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast, not at a timeout");
}

impl Counter {
    /// A counter whose total starts at `total`.
    pub(crate) fn starting_at(total: u64) -> Self {
        Counter { total, ..Counter::default() }
    }

    /// A slow consumer: sleeps a millisecond every `slow_every` recorded
    /// messages, and counts them in `delivered`.
    pub(crate) fn slow_consumer(slow_every: u64, delivered: Arc<AtomicU64>) -> Self {
        Counter { slow_every, delivered: Some(delivered), ..Counter::default() }
    }
}

#[actor]
impl Counter {
    #[message(remote)]
    pub(crate) fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.hits += 1;
        self.total
    }

    /// How many `Add`s it has handled.
    #[message(remote)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits
    }

    /// Replies `millis` after sleeping that long, holding up the mailbox.
    #[message(remote)]
    pub(crate) async fn nap(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    /// Local only: no other node may make this run.
    #[message]
    pub(crate) fn reset(&mut self) {
        self.total = 0;
    }

    /// Local only, like `reset`.
    #[message]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Records message `seq` of `sender`; numbers start at 0.
    #[message(remote)]
    pub(crate) async fn record(&mut self, sender: u32, seq: u64) {
        if self.received == 0 {
            self.in_order = true;
        }
        let next = self.next.entry(sender).or_insert(0);
        self.in_order &= seq == *next;
        *next = seq + 1;
        self.received += 1;
        if let Some(delivered) = &self.delivered {
            delivered.fetch_add(1, Ordering::Relaxed);
        }
        if self.slow_every > 0 && self.received.is_multiple_of(self.slow_every) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Messages recorded, and whether every sender's came in order.
    #[message(remote)]
    pub(crate) fn stats(&self) -> (u64, bool) {
        (self.received, self.in_order)
    }

    #[message(remote)]
    pub(crate) fn boom(&mut self) -> u64 {
        panic!("boom on purpose")
    }
}
