//! Shared workloads for the benchmarks.
//!
//! Every workload is written once, against the [`Target`] trait, and run
//! unchanged on two implementations of the same counter:
//!
//! - [`Counter`], an actor of this framework, reached through an
//!   [`ActorRef`];
//! - [`RawCounter`], the hand-written equivalent a tokio user would write
//!   without a framework: a task owning the sum, fed by a bounded
//!   [`tokio::sync::mpsc`] channel of [`Command`]s, answering through
//!   [`tokio::sync::oneshot`] channels.
//!
//! The raw counter is the yardstick: the framework adds type erasure, a
//! system lane, panic isolation and lifecycle bookkeeping on top of the same
//! channels, and the benchmarks measure what that costs.
//!
//! Each workload checks its results (sums, replies, stop reasons) and panics
//! on a wrong one, so that an implementation that skips work cannot post a
//! fast time.
//!
//! The [`savina`] module holds the Savina-derived suite, which runs the same
//! workloads on this framework, raw tokio and (feature `peers`) kameo,
//! ractor and actix.

use std::convert::Infallible;
use std::future::Future;

use actor_core::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub mod remote;
pub mod savina;

/// The mailbox capacity used on both sides: the framework's default
/// ([`actor_core::mailbox::DEFAULT_CAPACITY`]), and the raw channel's bound.
pub const CAPACITY: usize = actor_core::mailbox::DEFAULT_CAPACITY;

/// Tells sent per iteration of the tell-throughput workload.
pub const TELLS_PER_ITER: u64 = 100_000;

/// Sequential asks per iteration of the ask round-trip workload.
pub const ASKS_PER_ITER: u64 = 10_000;

/// Spawn / ask / stop cycles per iteration of the lifecycle workload.
pub const LIFECYCLES_PER_ITER: u64 = 1_000;

// ---------------------------------------------------------------------------
// The actor side.
// ---------------------------------------------------------------------------

/// A counter actor: holds a running sum.
#[derive(Debug, Default)]
pub struct Counter {
    sum: u64,
}

impl Counter {
    /// A counter starting at `sum`.
    pub fn new(sum: u64) -> Self {
        Counter { sum }
    }
}

impl Actor for Counter {
    type Error = Infallible;
}

/// Adds a number to the sum; sent with `tell`.
#[derive(Debug, Clone, Copy)]
pub struct Add(pub u64);

impl Message for Add {
    type Reply = ();
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, Add(n): Add, _ctx: &mut Context<Self>) {
        self.sum += n;
    }
}

/// Reads the sum.
#[derive(Debug, Clone, Copy)]
pub struct Get;

impl Message for Get {
    type Reply = u64;
}

impl Handler<Get> for Counter {
    async fn handle(&mut self, _msg: Get, _ctx: &mut Context<Self>) -> u64 {
        self.sum
    }
}

/// Adds a number to the sum and replies with the new sum, so that every
/// reply of a run of asks is different and can be checked.
#[derive(Debug, Clone, Copy)]
pub struct Bump(pub u64);

impl Message for Bump {
    type Reply = u64;
}

impl Handler<Bump> for Counter {
    async fn handle(&mut self, Bump(n): Bump, _ctx: &mut Context<Self>) -> u64 {
        self.sum += n;
        self.sum
    }
}

// ---------------------------------------------------------------------------
// The raw tokio side.
// ---------------------------------------------------------------------------

/// What the raw counter task accepts: the hand-written equivalent of the
/// three messages above.
#[derive(Debug)]
pub enum Command {
    /// As [`Add`]: no reply.
    Add(u64),
    /// As [`Get`]: replies with the sum.
    Get(oneshot::Sender<u64>),
    /// As [`Bump`]: adds, then replies with the new sum.
    Bump(u64, oneshot::Sender<u64>),
}

/// The loop of a raw counter task: owns the sum, serves commands until every
/// sender is gone, then returns the final sum.
pub async fn raw_counter_loop(mut sum: u64, mut rx: mpsc::Receiver<Command>) -> u64 {
    while let Some(command) = rx.recv().await {
        match command {
            Command::Add(n) => sum += n,
            Command::Get(reply) => {
                let _ = reply.send(sum);
            }
            Command::Bump(n, reply) => {
                sum += n;
                let _ = reply.send(sum);
            }
        }
    }
    sum
}

/// A handle to a raw counter task: the sending half of its channel.
///
/// Dropping every clone closes the channel, which ends the task.
#[derive(Debug, Clone)]
pub struct RawCounter {
    tx: mpsc::Sender<Command>,
}

impl RawCounter {
    /// Spawns a counter task starting at `sum` onto the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(sum: u64) -> (RawCounter, JoinHandle<u64>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let task = tokio::spawn(raw_counter_loop(sum, rx));
        (RawCounter { tx }, task)
    }
}

// ---------------------------------------------------------------------------
// The common interface and the workloads.
// ---------------------------------------------------------------------------

/// A counter the workloads can drive: implemented by both sides.
pub trait Target: Clone + Send + Sync + 'static {
    /// Fire-and-forget: adds `n`, waiting only for mailbox room.
    fn add(&self, n: u64) -> impl Future<Output = ()> + Send;
    /// Request / reply: the current sum.
    fn get(&self) -> impl Future<Output = u64> + Send;
    /// Request / reply: adds `n` and returns the new sum.
    fn bump(&self, n: u64) -> impl Future<Output = u64> + Send;
}

impl Target for ActorRef<Counter> {
    async fn add(&self, n: u64) {
        self.tell(Add(n)).await.expect("counter actor stopped");
    }

    async fn get(&self) -> u64 {
        self.ask(Get).await.expect("counter actor did not reply")
    }

    async fn bump(&self, n: u64) -> u64 {
        self.ask(Bump(n)).await.expect("counter actor did not reply")
    }
}

impl Target for RawCounter {
    async fn add(&self, n: u64) {
        self.tx.send(Command::Add(n)).await.expect("raw counter stopped");
    }

    async fn get(&self) -> u64 {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Get(reply)).await.expect("raw counter stopped");
        rx.await.expect("raw counter did not reply")
    }

    async fn bump(&self, n: u64) -> u64 {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Bump(n, reply)).await.expect("raw counter stopped");
        rx.await.expect("raw counter did not reply")
    }
}

/// The sum of `0..n`.
pub const fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Tell throughput: sends `Add(0)`, `Add(1)`, ... `Add(n - 1)`, then one
/// `Get` as a barrier (it is queued behind every add, so its reply means all
/// were handled). Returns the sum after.
///
/// # Panics
///
/// If the sum did not grow from `before` by exactly the numbers sent.
pub async fn tell_burst<T: Target>(target: &T, n: u64, before: u64) -> u64 {
    for i in 0..n {
        target.add(i).await;
    }
    let after = target.get().await;
    assert_eq!(after, before + sum_below(n), "tell workload lost or duplicated messages");
    after
}

/// Ask round trip: `n` sequential `Bump(1)` asks, each awaited before the
/// next is sent. Returns the sum after.
///
/// # Panics
///
/// If any reply is not the running sum it should be.
pub async fn ask_round_trips<T: Target>(target: &T, n: u64, before: u64) -> u64 {
    let mut expected = before;
    for _ in 0..n {
        expected += 1;
        let reply = target.bump(1).await;
        assert_eq!(reply, expected, "ask workload got a wrong reply");
    }
    expected
}

/// One actor lifecycle: spawn a counter at `seed`, ask it once, ask it to
/// stop, and wait until it has.
///
/// # Panics
///
/// If the reply is wrong or the actor did not stop normally.
pub async fn actor_lifecycle(system: &ActorSystem, seed: u64) {
    let actor = system.spawn(Counter::new(seed));
    assert_eq!(actor.get().await, seed, "lifecycle: wrong first reply");
    actor.stop();
    assert!(actor.wait_for_stop().await.is_normal(), "lifecycle: abnormal stop");
}

/// One raw lifecycle: spawn a counter task at `seed` with its channel, ask it
/// once, drop the sender, and await the task.
///
/// # Panics
///
/// If the reply is wrong or the task failed.
pub async fn raw_lifecycle(seed: u64) {
    let (counter, task) = RawCounter::spawn(seed);
    assert_eq!(counter.get().await, seed, "lifecycle: wrong first reply");
    drop(counter);
    assert_eq!(task.await.expect("raw counter task failed"), seed, "lifecycle: wrong final sum");
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check_target<T: Target>(target: &T) {
        let sum = tell_burst(target, 1_000, 0).await;
        assert_eq!(sum, sum_below(1_000));
        let sum = ask_round_trips(target, 100, sum).await;
        assert_eq!(target.get().await, sum);
    }

    /// Both sides give the same answers, and the actor side leaves nothing running.
    async fn both_sides_agree() {
        let system = ActorSystem::new();
        check_target(&system.spawn(Counter::default())).await;
        let (raw, task) = RawCounter::spawn(0);
        check_target(&raw).await;
        drop(raw);
        task.await.unwrap();
        for seed in 0..10 {
            actor_lifecycle(&system, seed).await;
            raw_lifecycle(seed).await;
        }
        system.shutdown().await;
        assert_eq!(system.actor_count(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn both_sides_agree_on_current_thread() {
        both_sides_agree().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_sides_agree_on_multi_thread() {
        both_sides_agree().await;
    }

    #[test]
    #[should_panic(expected = "lost or duplicated")]
    fn a_wrong_sum_is_caught() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let (raw, _task) = RawCounter::spawn(0);
            // Claim a starting sum the counter does not have.
            tell_burst(&raw, 10, 1).await;
        });
    }
}
