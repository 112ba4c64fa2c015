//! A token passed around a ring of actors; ping-pong is the ring of two.
//!
//! The token is a `u64`: the hops still to go. A node that gets `0` reports
//! on the done channel; any other value is counted and passed on, less
//! one. Both sides share that logic and the done channel (an unbounded
//! `mpsc` of `()`), so they differ only in how a node is reached.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use tokio::sync::mpsc;

use super::{Channel, stop};

/// A node of our ring.
struct Node {
    next: Option<ActorRef<Node>>,
    forwarded: u64,
    done: mpsc::UnboundedSender<()>,
}

impl Actor for Node {
    type Error = Infallible;
}

/// The token, with the hops still to go.
struct Token(u64);

impl Message for Token {
    type Reply = ();
}

impl Handler<Token> for Node {
    async fn handle(&mut self, Token(left): Token, _ctx: &mut Context<Self>) {
        if left == 0 {
            let _ = self.done.send(());
            return;
        }
        self.forwarded += 1;
        let next = self.next.as_ref().expect("ring: node not linked");
        next.tell(Token(left - 1)).await.expect("ring: the next node stopped");
    }
}

/// Sets a node's successor (asked, during set-up).
struct Link(ActorRef<Node>);

impl Message for Link {
    type Reply = ();
}

impl Handler<Link> for Node {
    async fn handle(&mut self, Link(next): Link, _ctx: &mut Context<Self>) {
        self.next = Some(next);
    }
}

/// Replies with the hops this node passed on; then forgets its successor,
/// so that the ring holds no references to itself.
struct Unlink;

impl Message for Unlink {
    type Reply = u64;
}

impl Handler<Unlink> for Node {
    async fn handle(&mut self, _msg: Unlink, _ctx: &mut Context<Self>) -> u64 {
        self.next = None;
        self.forwarded
    }
}

/// `hops` hops around a ring of `nodes` of our actors.
pub(super) async fn ring_ours(system: &ActorSystem, nodes: u64, hops: u64) -> Duration {
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let ring: Vec<_> =
        (0..nodes).map(|_| system.spawn(Node { next: None, forwarded: 0, done: done_tx.clone() })).collect();
    drop(done_tx);
    for (i, node) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].clone();
        node.ask(Link(next)).await.expect("ring: a node did not answer");
    }
    let start = Instant::now();
    ring[0].tell(Token(hops)).await.expect("ring: the first node stopped");
    done.recv().await.expect("ring: every node is gone");
    let elapsed = start.elapsed();
    let mut total = 0;
    for node in &ring {
        total += node.ask(Unlink).await.expect("ring: a node did not answer");
    }
    assert_eq!(total, hops, "ring: lost or duplicated hops");
    for node in &ring {
        stop(node).await;
    }
    elapsed
}

/// A raw node: passes the token on until it gets `0`, then reports and
/// returns, which drops its sender to the next node; that node's channel is
/// then closed and it returns too, and so on around the ring. Returns the
/// hops it passed on.
async fn raw_node<C: Channel>(mut rx: C::Rx<u64>, next: C::Tx<u64>, done: mpsc::UnboundedSender<()>) -> u64 {
    let mut forwarded = 0;
    while let Some(left) = C::recv(&mut rx).await {
        if left == 0 {
            let _ = done.send(());
            break;
        }
        forwarded += 1;
        C::send(&next, left - 1).await;
    }
    forwarded
}

/// `hops` hops around a ring of `nodes` raw tasks.
pub(super) async fn ring_raw<C: Channel>(nodes: u64, hops: u64) -> Duration {
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..nodes).map(|_| C::channel::<u64>()).unzip();
    let tasks: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let next = txs[(i + 1) % txs.len()].clone();
            tokio::spawn(raw_node::<C>(rx, next, done_tx.clone()))
        })
        .collect();
    drop(done_tx);
    // Keep only the way in: the ring's own senders keep it going.
    let first = txs.into_iter().next().expect("a ring has nodes");
    let start = Instant::now();
    C::send(&first, hops).await;
    done.recv().await.expect("ring: every node is gone");
    let elapsed = start.elapsed();
    drop(first);
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("ring: a node panicked");
    }
    assert_eq!(total, hops, "ring: lost or duplicated hops");
    elapsed
}
