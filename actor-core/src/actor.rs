//! The `Actor` trait and its lifecycle.

use std::fmt;
use std::future::Future;

use crate::base::error::{ActorError, PanicError};
use crate::base::id::ActorId;
use crate::context::Context;
use crate::supervision::ChildExit;

/// A unit of state that is only ever touched by its own task.
///
/// An actor is spawned with [`ActorSystem::spawn`](crate::ActorSystem::spawn),
/// receives messages through [`Handler`](crate::Handler) implementations, and
/// goes through a lifecycle of three hooks, all optional:
///
/// 1. [`on_start`](Actor::on_start) runs before the first message. An error
///    stops the actor with [`StopReason::Failed`].
/// 2. [`on_panic`](Actor::on_panic) runs when a handler panics and decides
///    whether the actor goes on ([`PanicAction::Resume`]) or stops
///    ([`PanicAction::Stop`], the default, as in Erlang's "let it crash").
/// 3. [`on_stop`](Actor::on_stop) runs once, last, whatever the reason,
///    after the actor's children have stopped.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Greeter {
///     greeted: usize,
/// }
///
/// impl Actor for Greeter {
///     type Error = std::convert::Infallible;
///
///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
///         println!("greeter {} is up", ctx.id());
///         Ok(())
///     }
///
///     async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
///         println!("greeted {} people, stopping: {reason}", self.greeted);
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let greeter = ActorSystem::new().spawn(Greeter { greeted: 0 });
/// greeter.stop();
/// assert!(greeter.wait_for_stop().await.is_normal());
/// # }
/// ```
pub trait Actor: Sized + Send + 'static {
    /// The error this actor can fail with (from `on_start`, or through
    /// [`Context::fail`]). Use [`std::convert::Infallible`] if it cannot.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs before the first message is handled.
    fn on_start(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs when a handler panics, and decides what happens next.
    ///
    /// The ask that caused the panic has already failed with
    /// [`AskError::Panicked`](crate::error::AskError::Panicked). The default
    /// stops the actor with [`StopReason::Panicked`].
    fn on_panic(&mut self, ctx: &mut Context<Self>, panic: &PanicError) -> impl Future<Output = PanicAction> + Send {
        let _ = (ctx, panic);
        async { PanicAction::Stop }
    }

    /// Runs when a child of this actor exits: it terminated, or, for a
    /// child started by a [`Supervisor`](crate::supervision::Supervisor),
    /// it failed and waits for the supervisor's decision. The default does
    /// nothing; use [`Context::monitor`] to be told about actors that are
    /// not your children.
    fn on_child_exit(&mut self, ctx: &mut Context<Self>, exit: &ChildExit) -> impl Future<Output = ()> + Send {
        let _ = (ctx, exit);
        async {}
    }

    /// Runs once when the actor stops, after its children have stopped.
    fn on_stop(&mut self, ctx: &mut Context<Self>, reason: &StopReason) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }
}

/// What an actor does after a handler panicked; returned by [`Actor::on_panic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicAction {
    /// Go on with the next message, keeping the state as the panic left it.
    Resume,
    /// Stop with [`StopReason::Panicked`].
    Stop,
}

/// Why an actor stopped.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StopReason {
    /// It was asked to stop ([`ActorRef::stop`](crate::ActorRef::stop),
    /// [`Context::stop`]), its last strong reference was dropped, or the
    /// system shut down.
    Normal,
    /// It was killed ([`ActorRef::kill`](crate::ActorRef::kill)).
    Killed,
    /// A handler or hook panicked and `on_panic` chose to stop.
    Panicked(PanicError),
    /// `on_start` returned an error, or a handler called [`Context::fail`].
    Failed(ActorError),
    /// An actor linked to this one ([`Context::link`]) stopped abnormally,
    /// and this one does not trap exits. (Boxed, to keep `StopReason` small:
    /// every actor stores one.)
    Linked(Box<LinkedExit>),
    /// Stopped by its supervisor so that a fresh incarnation can start (a
    /// sibling failed under a one-for-all or rest-for-one strategy). Seen by
    /// `on_stop` only: the actor lives on.
    Restart,
    /// The actor is on another node, and that node went down or the
    /// connection to it was lost: the actor may still be running, but it
    /// can no longer be reached. Seen by monitors of remote actors.
    NodeDown,
    /// The actor was not found when it was watched: it had already stopped
    /// (on another node, whose reason is no longer known), or never existed.
    NotFound,
}

impl StopReason {
    /// Whether this is a normal stop.
    pub fn is_normal(&self) -> bool {
        matches!(self, StopReason::Normal)
    }

    /// Whether the actor stopped because something went wrong: it was
    /// killed, it panicked, it failed, or a linked actor did.
    pub fn is_abnormal(&self) -> bool {
        matches!(
            self,
            StopReason::Killed
                | StopReason::Panicked(_)
                | StopReason::Failed(_)
                | StopReason::Linked(_)
                | StopReason::NodeDown
        )
    }
}

/// The exit that stopped a linked actor: see [`StopReason::Linked`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LinkedExit {
    /// The linked actor that stopped first.
    pub id: ActorId,
    /// Why it stopped.
    pub reason: StopReason,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Normal => f.write_str("stopped normally"),
            StopReason::Killed => f.write_str("killed"),
            StopReason::Panicked(p) => write!(f, "panicked: {p}"),
            StopReason::Failed(e) => write!(f, "failed: {e}"),
            StopReason::Linked(exit) => write!(f, "linked actor {} stopped: {}", exit.id, exit.reason),
            StopReason::Restart => f.write_str("restarted by its supervisor"),
            StopReason::NodeDown => f.write_str("its node is down"),
            StopReason::NotFound => f.write_str("no such actor"),
        }
    }
}
