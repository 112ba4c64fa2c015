//! Spawn, ask, stop: in batches (all of a batch alive at once) or one at
//! a time (a batch of one).
//!
//! Ours spawns a [`Counter`] starting at a seed, asks it `Get`, stops it and
//! waits until it has stopped. The raw actor is a task holding its seed and
//! answering a channel of `oneshot::Sender<u64>` (a request with no
//! payload); it is stopped by dropping its sender, and has stopped when its
//! `JoinHandle` returns.

use std::time::{Duration, Instant};

use actor_core::prelude::*;
use tokio::sync::oneshot;

use super::Channel;
use crate::{Counter, Get};

/// A raw actor that answers every request with its seed; returns the seed
/// once its channel is closed.
async fn holder<C: Channel>(seed: u64, mut rx: C::Rx<oneshot::Sender<u64>>) -> u64 {
    while let Some(reply) = C::recv(&mut rx).await {
        let _ = reply.send(seed);
    }
    seed
}

/// The seeds of `n` actors in batches of `batch`: `0..n`, chunked.
fn batches(batch: u64, n: u64) -> impl Iterator<Item = std::ops::Range<u64>> {
    let batch = batch.max(1);
    (0..n.div_ceil(batch)).map(move |b| b * batch..((b + 1) * batch).min(n))
}

/// `n` of our actors, `batch` at a time: spawn the batch, ask each, stop
/// each, wait for each to have stopped.
pub(super) async fn spawn_ours(system: &ActorSystem, batch: u64, n: u64) -> Duration {
    let mut actors = Vec::with_capacity(batch.min(n) as usize);
    let start = Instant::now();
    for seeds in batches(batch, n) {
        actors.extend(seeds.clone().map(|seed| system.spawn(Counter::new(seed))));
        for (seed, actor) in seeds.zip(&actors) {
            assert_eq!(actor.ask(Get).await.expect("spawn: no reply"), seed, "spawn: wrong reply");
        }
        for actor in &actors {
            actor.stop();
        }
        for actor in actors.drain(..) {
            assert!(actor.wait_for_stop().await.is_normal(), "spawn: abnormal stop");
        }
    }
    start.elapsed()
}

/// `n` raw actors, `batch` at a time: spawn the batch's tasks, ask each,
/// drop every sender, join every task.
pub(super) async fn spawn_raw<C: Channel>(batch: u64, n: u64) -> Duration {
    let mut senders = Vec::with_capacity(batch.min(n) as usize);
    let mut tasks = Vec::with_capacity(batch.min(n) as usize);
    let start = Instant::now();
    for seeds in batches(batch, n) {
        for seed in seeds.clone() {
            let (tx, rx) = C::channel();
            tasks.push(tokio::spawn(holder::<C>(seed, rx)));
            senders.push(tx);
        }
        for (seed, tx) in seeds.clone().zip(&senders) {
            let (reply, answer) = oneshot::channel();
            C::send(tx, reply).await;
            assert_eq!(answer.await.expect("spawn: no reply"), seed, "spawn: wrong reply");
        }
        senders.clear();
        for (seed, task) in seeds.zip(tasks.drain(..)) {
            assert_eq!(task.await.expect("spawn: a task panicked"), seed, "spawn: wrong task");
        }
    }
    start.elapsed()
}

/// `n` of our actors of the spawn workload, each asked once so that it
/// has started and is parked, waiting for its next message.
pub(super) async fn idle_ours(system: &ActorSystem, n: u64) -> Vec<ActorRef<Counter>> {
    let actors: Vec<_> = (0..n).map(|seed| system.spawn(Counter::new(seed))).collect();
    for (seed, actor) in (0..).zip(&actors) {
        assert_eq!(actor.ask(Get).await.expect("idle: no reply"), seed, "idle: wrong reply");
    }
    actors
}

/// `n` raw actors of the spawn workload, each asked once; their tasks are
/// detached (a `JoinHandle` kept per task would add to what is measured).
pub(super) async fn idle_raw<C: Channel>(n: u64) -> Vec<C::Tx<oneshot::Sender<u64>>> {
    let senders: Vec<_> = (0..n)
        .map(|seed| {
            let (tx, rx) = C::channel();
            drop(tokio::spawn(holder::<C>(seed, rx)));
            tx
        })
        .collect();
    for (seed, tx) in (0..).zip(&senders) {
        let (reply, answer) = oneshot::channel();
        C::send(tx, reply).await;
        assert_eq!(answer.await.expect("idle: no reply"), seed, "idle: wrong reply");
    }
    senders
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_cover_every_seed_once() {
        let seeds: Vec<u64> = batches(3, 10).flatten().collect();
        assert_eq!(seeds, (0..10).collect::<Vec<_>>());
        assert_eq!(batches(10, 10).count(), 1);
        assert_eq!(batches(1, 0).count(), 0);
    }
}
