//! The workloads that drive actors from outside: tell throughput, ask
//! latency, contended senders, fork-join throughput and creation.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::adapter::{Behavior, Framework};
use super::{Outcome, Sizes, run_senders};
use crate::sum_below;

/// A running sum: the actor of the tell, ask, contended and fork-join
/// throughput workloads.
#[derive(Debug, Default)]
pub struct Accumulator {
    sum: u64,
    count: u64,
}

/// What an [`Accumulator`] accepts.
#[derive(Debug)]
pub enum AccMsg {
    /// Adds to the sum (reply 0).
    Add(u64),
    /// Adds to the sum and replies with the new sum.
    Bump(u64),
    /// Replies with the sum.
    Sum,
    /// Replies with the number of `Add`s and `Bump`s handled.
    Count,
}

impl<F: Framework> Behavior<F> for Accumulator {
    type Msg = AccMsg;

    fn handle(&mut self, msg: AccMsg) -> u64 {
        match msg {
            AccMsg::Add(n) => {
                self.sum += n;
                self.count += 1;
                0
            }
            AccMsg::Bump(n) => {
                self.sum += n;
                self.count += 1;
                self.sum
            }
            AccMsg::Sum => self.sum,
            AccMsg::Count => self.count,
        }
    }
}

/// Tell throughput: one actor, `n` tells of `Add(i)`, then one ask as a
/// barrier (it is queued behind the tells).
pub(crate) async fn tell<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let n = sizes.tells();
    let acc = F::spawn(&system, Accumulator::default()).await;
    let start = Instant::now();
    for i in 0..n {
        F::tell(&acc, AccMsg::Add(i)).await;
    }
    let sum = F::ask(&acc, AccMsg::Sum).await;
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "{}: tell lost or duplicated messages", F::NAME);
    F::stop(&acc).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

/// Ask latency: `n` sequential asks, each awaited before the next, each
/// timed on its own.
pub(crate) async fn ask<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let n = sizes.asks();
    let acc = F::spawn(&system, Accumulator::default()).await;
    let mut latencies = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for expected in 1..=n {
        let sent = Instant::now();
        let reply = F::ask(&acc, AccMsg::Bump(1)).await;
        latencies.push(sent.elapsed());
        assert_eq!(reply, expected, "{}: ask got a wrong reply", F::NAME);
    }
    let elapsed = start.elapsed();
    F::stop(&acc).await;
    F::shutdown(system).await;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Outcome { elapsed, p50: Some(at(0.50)), p99: Some(at(0.99)) }
}

/// Contended: `senders` tasks share `n` tells to one actor, then one ask
/// as a barrier once every sender is done.
pub(crate) async fn contended<F: Framework>(system: F::System, sizes: Sizes, senders: u64) -> Outcome {
    let per_sender = sizes.tells() / senders;
    let n = per_sender * senders;
    let acc = F::spawn(&system, Accumulator::default()).await;
    let start = Instant::now();
    run_senders(senders, &acc, |acc, s| async move {
        for i in 0..per_sender {
            F::tell(&acc, AccMsg::Add(s * per_sender + i)).await;
        }
    })
    .await;
    let sum = F::ask(&acc, AccMsg::Sum).await;
    let elapsed = start.elapsed();
    assert_eq!(sum, sum_below(n), "{}: contended lost or duplicated messages", F::NAME);
    assert_eq!(F::ask(&acc, AccMsg::Count).await, n, "{}: contended count", F::NAME);
    F::stop(&acc).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

/// Fork-join throughput: `actors` accumulators, each sent `per_actor`
/// messages round-robin by one sender, then a barrier ask to each.
pub(crate) async fn fork_join_throughput<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let (actors, per_actor) = sizes.fork_join_throughput();
    let mut accs = Vec::with_capacity(actors as usize);
    for _ in 0..actors {
        accs.push(F::spawn(&system, Accumulator::default()).await);
    }
    let start = Instant::now();
    for i in 0..per_actor {
        for acc in &accs {
            F::tell(acc, AccMsg::Add(i)).await;
        }
    }
    let mut total = 0;
    for acc in &accs {
        total += F::ask(acc, AccMsg::Count).await;
    }
    let elapsed = start.elapsed();
    assert_eq!(total, actors * per_actor, "{}: fork-join lost or duplicated messages", F::NAME);
    for acc in &accs {
        assert_eq!(F::ask(acc, AccMsg::Sum).await, sum_below(per_actor), "{}: fork-join sum", F::NAME);
        F::stop(acc).await;
    }
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

/// Counts the results of the fork-join creation workload and signals when
/// all have arrived.
#[derive(Debug)]
pub struct Sink {
    expected: u64,
    received: u64,
    sum: u64,
    done: mpsc::UnboundedSender<u64>,
}

impl<F: Framework> Behavior<F> for Sink {
    type Msg = u64;

    fn handle(&mut self, value: u64) -> u64 {
        self.received += 1;
        self.sum += value;
        if self.received == self.expected {
            let _ = self.done.send(self.sum);
        }
        self.received
    }
}

/// A short-lived actor of the fork-join creation workload: handles one
/// number and sends its square to the sink.
#[derive(Debug)]
pub struct Squarer<F: Framework> {
    sink: F::Ref<Sink>,
}

impl<F: Framework> Behavior<F> for Squarer<F> {
    type Msg = u64;

    fn handle(&mut self, value: u64) -> u64 {
        F::send::<Sink>(&self.sink, value * value);
        0
    }
}

/// Fork-join creation: spawn `n` actors, tell each one number; each sends
/// its square to a sink; the clock stops when the sink has all `n`. The
/// actors are stopped afterwards, outside the clock.
pub(crate) async fn fork_join_creation<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let n = sizes.created_actors();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let sink = F::spawn_unbounded(&system, Sink { expected: n, received: 0, sum: 0, done: done_tx }).await;
    let mut actors = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let actor = F::spawn(&system, Squarer::<F> { sink: sink.clone() }).await;
        F::tell(&actor, i).await;
        actors.push(actor);
    }
    let sum = done.recv().await.expect("sink dropped");
    let elapsed = start.elapsed();
    let expected: u64 = (0..n).map(|i| i * i).sum();
    assert_eq!(sum, expected, "{}: fork-join creation got wrong results", F::NAME);
    for actor in &actors {
        F::stop(actor).await;
    }
    F::stop(&sink).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

/// Spawns `n` idle actors with the default mailbox, asks each one once so
/// that all have started, and returns them with the time that took.
pub(crate) async fn spawn_idle<F: Framework>(system: &F::System, n: u64) -> (Duration, Vec<F::Ref<Accumulator>>) {
    let start = Instant::now();
    let mut actors = Vec::with_capacity(n as usize);
    for i in 0..n {
        let actor = F::spawn(system, Accumulator::default()).await;
        F::tell(&actor, AccMsg::Add(i)).await;
        actors.push(actor);
    }
    for (i, actor) in (0..).zip(&actors) {
        assert_eq!(F::ask(actor, AccMsg::Sum).await, i, "{}: idle actor {i} is not up", F::NAME);
    }
    (start.elapsed(), actors)
}
