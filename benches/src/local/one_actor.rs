//! One actor driven from outside: tell, ask and contended.
//!
//! Ours is the shared [`Counter`]: `Add(u64)` told, `Bump(u64)` and `Get`
//! asked. The raw actors are a task summing a channel of `u64`s, and a task
//! answering a channel of `(u64, oneshot::Sender<u64>)` with its running
//! sum.

use std::future::Future;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Channel, stop};
use crate::savina::run_senders;
use crate::{Add, Bump, Counter, Get, sum_below};

/// A raw actor that sums the numbers it is sent; returns the sum once its
/// channel is closed.
async fn summer<C: Channel>(mut rx: C::Rx<u64>) -> u64 {
    let mut sum = 0;
    while let Some(n) = C::recv(&mut rx).await {
        sum += n;
    }
    sum
}

/// A raw actor that adds each request's number to its sum and replies with
/// the new sum; returns the sum once its channel is closed.
pub(super) async fn bumper<C: Channel>(mut rx: C::Rx<(u64, oneshot::Sender<u64>)>) -> u64 {
    let mut sum = 0;
    while let Some((n, reply)) = C::recv(&mut rx).await {
        sum += n;
        let _ = reply.send(sum);
    }
    sum
}

/// Starts the raw actor `run` on a channel of its own; returns the
/// channel's sender and the actor's task.
fn spawn_raw<C: Channel, T: Send + 'static, F>(run: impl FnOnce(C::Rx<T>) -> F) -> (C::Tx<T>, JoinHandle<u64>)
where
    F: Future<Output = u64> + Send + 'static,
{
    let (tx, rx) = C::channel();
    (tx, tokio::spawn(run(rx)))
}

/// `n` tells of `Add(0)` .. `Add(n - 1)`, then a `Get` ask, queued behind
/// them, as the barrier.
pub(super) async fn tell_ours(system: &ActorSystem, n: u64) -> Duration {
    let counter = system.spawn(Counter::default());
    let start = Instant::now();
    for i in 0..n {
        counter.tell(Add(i)).await.expect("tell: the counter stopped");
    }
    let sum = counter.ask(Get).await.expect("tell: the counter did not answer");
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "tell: lost or duplicated messages");
    stop(&counter).await;
    elapsed
}

/// `n` sends of `0` .. `n - 1`; then the channel is closed and the task
/// joined, which returns once it has summed them all.
pub(super) async fn tell_raw<C: Channel>(n: u64) -> Duration {
    let (tx, task) = spawn_raw::<C, _, _>(summer::<C>);
    let start = Instant::now();
    for i in 0..n {
        C::send(&tx, i).await;
    }
    drop(tx);
    let sum = task.await.expect("tell: the summing task panicked");
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "tell: lost or duplicated messages");
    elapsed
}

/// `n` sequential asks of `Bump(1)`, each reply checked.
pub(super) async fn ask_ours(system: &ActorSystem, n: u64) -> Duration {
    let counter = system.spawn(Counter::default());
    let start = Instant::now();
    for expected in 1..=n {
        let sum = counter.ask(Bump(1)).await.expect("ask: the counter did not answer");
        assert_eq!(sum, expected, "ask: wrong reply");
    }
    let elapsed = start.elapsed();
    stop(&counter).await;
    elapsed
}

/// `n` sequential requests `(1, reply)`, each reply awaited and checked.
pub(super) async fn ask_raw<C: Channel>(n: u64) -> Duration {
    let (tx, task) = spawn_raw::<C, _, _>(bumper::<C>);
    let start = Instant::now();
    for expected in 1..=n {
        let (reply, answer) = oneshot::channel();
        C::send(&tx, (1, reply)).await;
        assert_eq!(answer.await.expect("ask: no reply"), expected, "ask: wrong reply");
    }
    let elapsed = start.elapsed();
    drop(tx);
    assert_eq!(task.await.expect("ask: the task panicked"), n);
    elapsed
}

/// `senders` tasks share `n` tells (sender `s` tells `s * n / senders + i`),
/// then, once all of them are done, a `Get` ask as the barrier.
pub(super) async fn contended_ours(system: &ActorSystem, senders: u64, n: u64) -> Duration {
    let per_sender = n / senders;
    let counter = system.spawn(Counter::default());
    let start = Instant::now();
    run_senders(senders, &counter, |counter, s| async move {
        for i in 0..per_sender {
            counter.tell(Add(s * per_sender + i)).await.expect("contended: the counter stopped");
        }
    })
    .await;
    let sum = counter.ask(Get).await.expect("contended: the counter did not answer");
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "contended: lost or duplicated messages");
    stop(&counter).await;
    elapsed
}

/// `senders` tasks share `n` sends, each on its own clone of the sender;
/// once all are done the channel is closed and the summing task joined.
pub(super) async fn contended_raw<C: Channel>(senders: u64, n: u64) -> Duration {
    let per_sender = n / senders;
    let (tx, summer) = spawn_raw::<C, _, _>(summer::<C>);
    let start = Instant::now();
    run_senders(senders, &tx, |tx, s| async move {
        for i in 0..per_sender {
            C::send(&tx, s * per_sender + i).await;
        }
    })
    .await;
    drop(tx);
    let sum = summer.await.expect("contended: the summing task panicked");
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "contended: lost or duplicated messages");
    elapsed
}
