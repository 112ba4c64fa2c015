//! The adapter every framework implements, so that each workload is written
//! once.
//!
//! A workload's actors are [`Behavior`]s: plain state with a synchronous
//! handler that returns a `u64` (the reply of an ask; ignored for a tell).
//! Each framework wraps a behaviour in its own actor type, the way its docs
//! show a hand-written actor, and exposes the handful of operations the
//! workloads need through [`Framework`].

use std::future::Future;

use super::Flavour;

/// `Framework::run` for a framework without a system object
/// (`System = ()`): `work` runs on a tokio runtime of the flavour.
macro_rules! run_without_system {
    () => {
        fn run<T, Fut, W>(flavour: Flavour, work: W) -> T
        where
            T: Send + 'static,
            Fut: Future<Output = T> + Send + 'static,
            W: FnOnce(Self::System) -> Fut + Send + 'static,
        {
            run_on_tokio(flavour, async move { work(()).await })
        }
    };
}

mod ours;
mod raw;

#[cfg(feature = "peers")]
mod actix;
#[cfg(feature = "peers")]
mod kameo;
#[cfg(feature = "peers")]
mod ractor;
#[cfg(feature = "peers")]
mod xtra;

#[cfg(feature = "peers")]
pub use self::actix::Actix;
#[cfg(feature = "peers")]
pub use self::kameo::Kameo;
pub use self::ours::Ours;
#[cfg(feature = "peers")]
pub use self::ractor::Ractor;
pub use self::raw::{Raw, RawEnvelope, RawRef};
#[cfg(feature = "peers")]
pub use self::xtra::Xtra;

/// The state and handler of one actor of a workload, independent of the
/// framework that runs it.
///
/// The handler is synchronous: a behaviour that talks to other actors does
/// so with [`Framework::send`], which never waits (the receivers of such
/// messages are spawned with [`Framework::spawn_unbounded`]).
pub trait Behavior<F: Framework>: Send + Unpin + 'static {
    /// The messages this actor accepts.
    type Msg: Send + 'static;

    /// Handles one message; the return value is the reply to an ask.
    fn handle(&mut self, msg: Self::Msg) -> u64;
}

/// What a workload needs from a framework: spawn, tell, ask, stop.
///
/// Every method is used the way the framework's docs recommend; where a
/// framework offers a choice, the adapter's docs say which one it takes.
pub trait Framework: Sized + Send + Sync + 'static {
    /// The name used in tables and charts.
    const NAME: &'static str;

    /// Whether one sender's messages to one actor are handled in the order
    /// they were sent. Workloads whose check needs it
    /// ([`Workload::needs_order`](super::Workload::needs_order)) fail on a
    /// framework that does not.
    const KEEPS_ORDER: bool = true;

    /// Whatever the framework needs to spawn actors (our `ActorSystem`,
    /// actix's arbiters, or nothing).
    type System: Clone + Send + Sync + 'static;

    /// A reference to a running actor with behaviour `B`.
    type Ref<B: Behavior<Self>>: Clone + Send + Sync + Unpin + 'static;

    /// Builds the runtime this framework runs on for `flavour`, runs
    /// `work` on it to completion, and returns its output.
    ///
    /// For the tokio-based frameworks, `work` runs as a task spawned onto
    /// the runtime, so that on the multi-thread flavour the driver and the
    /// actors share its two workers.
    fn run<T, Fut, W>(flavour: Flavour, work: W) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        W: FnOnce(Self::System) -> Fut + Send + 'static;

    /// Spawns `behavior` with the framework's default mailbox.
    fn spawn<B: Behavior<Self>>(system: &Self::System, behavior: B) -> impl Future<Output = Self::Ref<B>> + Send;

    /// Spawns `behavior` with an unbounded mailbox, for actors that other
    /// actors [`send`](Framework::send) to.
    fn spawn_unbounded<B: Behavior<Self>>(
        system: &Self::System,
        behavior: B,
    ) -> impl Future<Output = Self::Ref<B>> + Send;

    /// Fire-and-forget from a task, waiting for mailbox room where the
    /// framework's recommended send does.
    fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> impl Future<Output = ()> + Send;

    /// Fire-and-forget that never waits: from inside a handler, to an actor
    /// spawned with [`spawn_unbounded`](Framework::spawn_unbounded).
    ///
    /// # Panics
    ///
    /// If the actor has stopped (or, on a bounded mailbox, is full).
    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg);

    /// Request / reply: the handler's return value.
    fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> impl Future<Output = u64> + Send;

    /// Stops the actor after the messages already queued and waits until
    /// it has stopped.
    fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) -> impl Future<Output = ()> + Send;

    /// Ends the system, once every actor of the workload has stopped.
    fn shutdown(system: Self::System) -> impl Future<Output = ()> + Send;
}

/// Builds a tokio runtime of `flavour` and runs `work` as a task on it.
pub(crate) fn run_on_tokio<T, Fut>(flavour: Flavour, work: Fut) -> T
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let runtime = flavour.tokio_runtime();
    match runtime.block_on(runtime.spawn(work)) {
        Ok(output) => output,
        // The workload's own panic (a failed check), as if it had run here.
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("workload task did not finish: {error}"),
        },
    }
}
