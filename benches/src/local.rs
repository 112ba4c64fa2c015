//! The local workloads of the `core` bench, each written twice.
//!
//! - [`Side::ActorCore`]: actors of this framework, spawned with the default
//!   mailbox (bounded, [`CAPACITY`]), told with `tell(..).await` and asked
//!   with `ask(..).await`.
//! - [`Side::RawBounded`] and [`Side::RawUnbounded`]: what a tokio
//!   programmer writes by hand for that exact workload, with no framework:
//!   a task looping over a `tokio::sync::mpsc` channel of the workload's own
//!   message type (a `u64` for a tell, `(u64, oneshot::Sender<u64>)` for an
//!   ask, a `oneshot::Sender<u64>` for a bare request), bounded to
//!   [`CAPACITY`] or unbounded. Each raw program is written once, generic
//!   over the channel kind ([`Channel`]); a channel's `send` and `recv` are
//!   all it calls, and they inline to the plain calls.
//!
//! A raw task ends when its channel closes and returns what it counted;
//! that is how a raw program knows that every message sent before the close
//! has been handled (the "barrier" of the tell workloads), where an actor
//! is asked.
//!
//! [`Workload::run`] sets a workload up outside the clock, times the
//! measured part, checks the result (panicking on a wrong one) and tears
//! everything down outside the clock. It must be called inside a tokio
//! runtime; the `core` bench calls it from a task spawned onto the measured
//! runtime, so that on the multi-thread flavour the driver and the actors
//! share its two workers.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use actor_core::prelude::*;
use tokio::sync::mpsc;

use crate::CAPACITY;

mod fanout;
mod one_actor;
mod ring;
mod spawn;

/// The actors of the ring workload.
pub const RING_NODES: u64 = 1_000;

/// The actors of the fan-out workload, each asked once per round.
pub const FANOUT_WIDTH: u64 = 1_000;

/// The sending tasks of the contended workload.
pub const CONTENDED_SENDERS: u64 = 4;

/// Who runs a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This framework: actors with the default mailbox.
    ActorCore,
    /// Hand-written tasks over bounded `mpsc` channels of [`CAPACITY`].
    RawBounded,
    /// Hand-written tasks over unbounded `mpsc` channels.
    RawUnbounded,
}

impl Side {
    /// Every side, in report order.
    pub const ALL: [Side; 3] = [Side::ActorCore, Side::RawBounded, Side::RawUnbounded];

    /// The name used as the criterion function and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Side::ActorCore => "actor_core",
            Side::RawBounded => "raw_bounded",
            Side::RawUnbounded => "raw_unbounded",
        }
    }

    /// Looks a side up by [`name`](Side::name).
    pub fn from_name(name: &str) -> Option<Side> {
        Side::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The local workloads, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Tells of `u64`s from one task to one actor, then one barrier.
    Tell,
    /// Sequential asks to one actor, each awaited before the next.
    Ask,
    /// Two actors passing one message back and forth.
    PingPong,
    /// A token passed around a ring of [`RING_NODES`] actors.
    Ring,
    /// Spawn a batch of actors, ask each once, stop them all.
    Spawn,
    /// Spawn one actor, ask it once, stop it; one after the other.
    Lifecycle,
    /// [`CONTENDED_SENDERS`] tasks telling one actor, then one barrier.
    Contended,
    /// Rounds of one ask to each of [`FANOUT_WIDTH`] actors, all in flight
    /// at once.
    Fanout,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 8] = [
        Workload::Tell,
        Workload::Ask,
        Workload::PingPong,
        Workload::Ring,
        Workload::Spawn,
        Workload::Lifecycle,
        Workload::Contended,
        Workload::Fanout,
    ];

    /// The name used in group names, tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Tell => "tell",
            Workload::Ask => "ask",
            Workload::PingPong => "pingpong",
            Workload::Ring => "ring",
            Workload::Spawn => "spawn",
            Workload::Lifecycle => "lifecycle",
            Workload::Contended => "contended",
            Workload::Fanout => "fanout",
        }
    }

    /// Looks a workload up by [`name`](Workload::name).
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// What one operation is: the unit of [`ops_per_iter`](Workload::ops_per_iter).
    pub fn op(self) -> &'static str {
        match self {
            Workload::Tell | Workload::Contended => "tell",
            Workload::Ask | Workload::Fanout => "ask",
            Workload::PingPong => "round trip",
            Workload::Ring => "hop",
            Workload::Spawn | Workload::Lifecycle => "spawn, ask, stop",
        }
    }

    /// Operations per criterion iteration: the sizes, scaled down
    /// so that an iteration takes milliseconds (the time per operation is
    /// what is compared).
    pub fn ops_per_iter(self) -> u64 {
        match self {
            Workload::Tell | Workload::Contended => 100_000,
            Workload::Ask | Workload::PingPong => 10_000,
            Workload::Ring | Workload::Fanout => 100_000,
            Workload::Spawn => 10_000,
            Workload::Lifecycle => 1_000,
        }
    }

    /// Whether `ops` is a size this workload can run (fan-out runs whole
    /// rounds, contended splits the tells evenly between its senders).
    pub fn accepts(self, ops: u64) -> bool {
        match self {
            Workload::Fanout => ops.is_multiple_of(FANOUT_WIDTH),
            Workload::Contended => ops.is_multiple_of(CONTENDED_SENDERS),
            _ => true,
        }
    }

    /// Runs `ops` operations of this workload on `side` and returns the
    /// time of the measured part. Must be called inside a tokio runtime.
    ///
    /// # Panics
    ///
    /// If the result is wrong, or `ops` is not [accepted](Workload::accepts).
    pub async fn run(self, side: Side, ops: u64) -> Duration {
        assert!(self.accepts(ops), "{}: {ops} operations do not divide evenly", self.name());
        match side {
            Side::ActorCore => {
                let system = ActorSystem::new();
                let elapsed = self.run_ours(&system, ops).await;
                system.shutdown().await;
                assert_eq!(system.actor_count(), 0, "{}: actors left after shutdown", self.name());
                elapsed
            }
            Side::RawBounded => self.run_raw::<Bounded>(ops).await,
            Side::RawUnbounded => self.run_raw::<Unbounded>(ops).await,
        }
    }

    async fn run_ours(self, system: &ActorSystem, ops: u64) -> Duration {
        match self {
            Workload::Tell => one_actor::tell_ours(system, ops).await,
            Workload::Ask => one_actor::ask_ours(system, ops).await,
            Workload::PingPong => ring::ring_ours(system, 2, 2 * ops).await,
            Workload::Ring => ring::ring_ours(system, RING_NODES, ops).await,
            Workload::Spawn => spawn::spawn_ours(system, ops, ops).await,
            Workload::Lifecycle => spawn::spawn_ours(system, 1, ops).await,
            Workload::Contended => one_actor::contended_ours(system, CONTENDED_SENDERS, ops).await,
            Workload::Fanout => fanout::fanout_ours(system, FANOUT_WIDTH, ops / FANOUT_WIDTH).await,
        }
    }

    async fn run_raw<C: Channel>(self, ops: u64) -> Duration {
        match self {
            Workload::Tell => one_actor::tell_raw::<C>(ops).await,
            Workload::Ask => one_actor::ask_raw::<C>(ops).await,
            Workload::PingPong => ring::ring_raw::<C>(2, 2 * ops).await,
            Workload::Ring => ring::ring_raw::<C>(RING_NODES, ops).await,
            Workload::Spawn => spawn::spawn_raw::<C>(ops, ops).await,
            Workload::Lifecycle => spawn::spawn_raw::<C>(1, ops).await,
            Workload::Contended => one_actor::contended_raw::<C>(CONTENDED_SENDERS, ops).await,
            Workload::Fanout => fanout::fanout_raw::<C>(FANOUT_WIDTH, ops / FANOUT_WIDTH).await,
        }
    }
}

/// Idle actors of the spawn workload, alive until this is dropped (see
/// [`spawn_idle`]).
pub struct IdleActors {
    side: Side,
    count: u64,
    // The actors' references (ours) or senders (raw), type-erased.
    _keep: Box<dyn Any + Send>,
}

impl IdleActors {
    /// How many actors are kept.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no actor is kept.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Debug for IdleActors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleActors").field("side", &self.side).field("count", &self.count).finish_non_exhaustive()
    }
}

/// Spawns `n` actors of the spawn workload on `side` (ours on `system`)
/// and asks each once, so that every one has started and is parked waiting
/// for its next message. The raw tasks are detached: only their senders
/// are kept, as ours keeps only its references. Must be called inside a
/// tokio runtime; for measuring the memory of idle actors.
///
/// # Panics
///
/// If an actor's reply is wrong.
pub async fn spawn_idle(side: Side, system: &ActorSystem, n: u64) -> IdleActors {
    let keep: Box<dyn Any + Send> = match side {
        Side::ActorCore => Box::new(spawn::idle_ours(system, n).await),
        Side::RawBounded => Box::new(spawn::idle_raw::<Bounded>(n).await),
        Side::RawUnbounded => Box::new(spawn::idle_raw::<Unbounded>(n).await),
    };
    IdleActors { side, count: n, _keep: keep }
}

/// A kind of tokio `mpsc` channel, so that each raw program is written
/// once for bounded and unbounded channels.
pub(crate) trait Channel: Send + Sync + 'static {
    /// The sending half.
    type Tx<T: Send + 'static>: Clone + Send + Sync + 'static;
    /// The receiving half.
    type Rx<T: Send + 'static>: Send + 'static;

    /// A new channel.
    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>);

    /// Sends `value`, waiting for room on a bounded channel.
    ///
    /// # Panics
    ///
    /// If the receiver is gone: in these workloads that is a bug.
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> impl Future<Output = ()> + Send;

    /// The next value, or `None` once every sender is gone.
    fn recv<T: Send + 'static>(rx: &mut Self::Rx<T>) -> impl Future<Output = Option<T>> + Send;
}

/// `mpsc::channel(CAPACITY)`.
pub(crate) struct Bounded;

/// `mpsc::unbounded_channel()`.
pub(crate) struct Unbounded;

impl Channel for Bounded {
    type Tx<T: Send + 'static> = mpsc::Sender<T>;
    type Rx<T: Send + 'static> = mpsc::Receiver<T>;

    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
        mpsc::channel(CAPACITY)
    }

    async fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) {
        if tx.send(value).await.is_err() {
            panic!("raw_bounded: the receiving task is gone");
        }
    }

    async fn recv<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T> {
        rx.recv().await
    }
}

impl Channel for Unbounded {
    type Tx<T: Send + 'static> = mpsc::UnboundedSender<T>;
    type Rx<T: Send + 'static> = mpsc::UnboundedReceiver<T>;

    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
        mpsc::unbounded_channel()
    }

    async fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) {
        if tx.send(value).is_err() {
            panic!("raw_unbounded: the receiving task is gone");
        }
    }

    async fn recv<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T> {
        rx.recv().await
    }
}

/// Stops one of our actors and checks that it stopped normally.
async fn stop<A: Actor>(actor: &ActorRef<A>) {
    actor.stop();
    assert!(actor.wait_for_stop().await.is_normal(), "an actor stopped abnormally");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavour;

    /// A small size that every workload accepts.
    fn small(workload: Workload) -> u64 {
        match workload {
            Workload::Fanout => 2 * FANOUT_WIDTH,
            Workload::Ring => 2 * RING_NODES + 7,
            _ => 1_000,
        }
    }

    #[test]
    fn every_workload_checks_out_on_every_side_and_flavour() {
        for flavour in Flavour::ALL {
            let runtime = flavour.tokio_runtime();
            for workload in Workload::ALL {
                for side in Side::ALL {
                    let elapsed = runtime
                        .block_on(runtime.spawn(workload.run(side, small(workload))))
                        .unwrap_or_else(|e| panic!("{} {} {}: {e}", workload.name(), side.name(), flavour.name()));
                    assert!(elapsed > Duration::ZERO);
                }
            }
        }
    }

    #[test]
    fn zero_operations_are_fine_everywhere() {
        let runtime = Flavour::Current.tokio_runtime();
        for workload in Workload::ALL {
            for side in Side::ALL {
                runtime.block_on(workload.run(side, 0));
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for workload in Workload::ALL {
            assert_eq!(Workload::from_name(workload.name()), Some(workload));
            assert!(workload.accepts(workload.ops_per_iter()), "{}", workload.name());
        }
        for side in Side::ALL {
            assert_eq!(Side::from_name(side.name()), Some(side));
        }
    }
}
