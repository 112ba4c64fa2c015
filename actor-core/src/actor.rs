//! The `Actor` trait and its lifecycle.

use std::future::Future;

use crate::base::error::PanicError;
use crate::base::reason::{ChildExit, StopReason};
use crate::context::Context;

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
pub(crate) mod shared;
