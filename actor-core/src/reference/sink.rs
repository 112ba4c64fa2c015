//! The ways of queueing a message, erased over the actor type and over
//! where the actor lives: `Sink<M>`, implemented by an actor's shared block
//! (a local actor) and by a transport's `RemoteTarget` (an actor on another
//! node). Every reference sends through one.

use std::future::Future;

use futures::future::BoxFuture;

use crate::actor::message::{Ask, Tell};
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
#[cfg(feature = "serde")]
use crate::base::reply;

/// Who asks, and until when: what a remote ask carries to the far node
/// (cycle detection and deadlines); a local ask ignores it, since the graph
/// of waits and the closed reply channel already tell the same here.
#[cfg(feature = "serde")]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking {
    /// The handler's actor, when this ask is one of its waits in the graph.
    pub(crate) asker: Option<reply::Me>,
    /// When the asker gives up.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// Without the `serde` feature every actor is local, and an ask carries
/// nothing besides its message.
#[cfg(not(feature = "serde"))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking;

/// The ways of queueing an `M`, erased over the actor type; what a
/// [`Recipient`] holds, and what an ask sends through.
pub(crate) trait Sink<M: Message>: Send + Sync {
    fn id(&self) -> ActorId;
    fn stop(&self);
    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason>;
    /// The runtime the `blocking_*` forms run timers on.
    fn runtime(&self) -> tokio::runtime::Handle;
    fn retain(&self);
    fn release(&self);
    fn is_accepting(&self) -> bool;
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>>;
    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>>;
    fn try_ask(&self, ask: Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>>;
    fn ask(&self, ask: Ask<M>, asking: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>>;
}

impl<A: Handler<M>, M: Message> Sink<M> for Shared<A> {
    fn id(&self) -> ActorId {
        self.cell.id
    }

    fn stop(&self) {
        Shared::stop(self);
    }

    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason> {
        Box::pin(self.cell.wait_terminated())
    }

    fn runtime(&self) -> tokio::runtime::Handle {
        self.system.handle().clone()
    }

    fn retain(&self) {
        Shared::retain(self);
    }

    fn release(&self) {
        Shared::release(self);
    }

    fn is_accepting(&self) -> bool {
        Shared::is_accepting(self)
    }

    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.try_send(Tell(msg)).map_err(|e| map_send_error(e, |t| t.0))
    }

    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>> {
        Box::pin(async move { self.send(Tell(msg)).await.map_err(|e| map_send_error(e, |t| t.0)) })
    }

    fn try_ask(&self, ask: Ask<M>, _: Asking) -> Result<(), SendError<Ask<M>>> {
        self.try_send(ask)
    }

    fn ask(&self, ask: Ask<M>, _: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>> {
        Box::pin(self.send_ask(ask))
    }
}

pub(crate) fn map_send_error<P, M>(e: SendError<P>, f: impl FnOnce(P) -> M) -> SendError<M> {
    e.map(f)
}

/// Fails with `BlockingInRuntime` when called from inside a runtime;
/// otherwise runs `fut` to completion on this thread, inside `runtime`'s
/// context so that timers work.
pub(crate) fn block_on<F: Future>(runtime: &tokio::runtime::Handle, fut: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return None;
    }
    let _entered = runtime.enter();
    Some(futures::executor::block_on(fut))
}
