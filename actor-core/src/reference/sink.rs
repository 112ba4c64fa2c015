//! The ways of queueing a message, erased over the actor type and over
//! where the actor lives: `Sink<M>`, implemented by an actor's shared block
//! (a local actor) and by a transport's `RemoteTarget` (an actor on another
//! node). Every reference sends through one.

use std::future::Future;

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::actor::message::{Ask, Tell};
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::base::deadlock;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::base::reply;
use crate::endpoint::{self, AskContext, Outgoing, PendingReply, RemoteTarget};

/// Who asks, and until when: what a remote ask carries to the far node
/// (cycle detection and deadlines); a local ask ignores it, since the graph
/// of waits and the closed reply channel already tell the same here.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking {
    /// The handler's actor, when this ask is one of its waits in the graph.
    pub(crate) asker: Option<reply::Me>,
    /// When the asker gives up.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

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

/// A remote actor takes any message type; whether it can be encoded is
/// found out when it is sent (`NotRemote` otherwise).
impl<M: Message> Sink<M> for RemoteTarget {
    fn id(&self) -> ActorId {
        self.endpoint.id()
    }

    fn stop(&self) {
        self.endpoint.stop();
    }

    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason> {
        Box::pin(remote_wait_for_stop(self))
    }

    fn runtime(&self) -> tokio::runtime::Handle {
        self.system.handle().clone()
    }

    fn retain(&self) {}

    fn release(&self) {}

    fn is_accepting(&self) -> bool {
        self.endpoint.is_alive()
    }

    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        if !self.accepts::<M>() {
            return Err(SendError::NotRemote(msg));
        }
        if let Err(refused) = self.endpoint.try_reserve() {
            return Err(self.refused(refused, msg, std::any::type_name::<M>()));
        }
        self.send_reserved(msg).map_err(SendError::NotRemote)
    }

    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>> {
        Box::pin(async move {
            if !self.accepts::<M>() {
                return Err(SendError::NotRemote(msg));
            }
            if let Err(refused) = self.endpoint.reserve().await {
                return Err(self.refused(refused, msg, std::any::type_name::<M>()));
            }
            self.send_reserved(msg).map_err(SendError::NotRemote)
        })
    }

    fn try_ask(&self, ask: Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>> {
        if !self.accepts::<M>() {
            return Err(SendError::NotRemote(ask));
        }
        if let Err(refused) = self.endpoint.try_reserve() {
            return Err(self.refused(refused, ask, std::any::type_name::<M>()));
        }
        self.send_ask(ask, asking)
    }

    fn ask(&self, ask: Ask<M>, asking: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>> {
        Box::pin(async move {
            if !self.accepts::<M>() {
                return Err(SendError::NotRemote(ask));
            }
            if let Err(refused) = self.endpoint.reserve().await {
                return Err(self.refused(refused, ask, std::any::type_name::<M>()));
            }
            self.send_ask(ask, asking)
        })
    }
}

impl RemoteTarget {
    /// Whether `M` is one of the actor's remote messages.
    fn accepts<M: 'static>(&self) -> bool {
        self.codec(std::any::TypeId::of::<M>()).is_some()
    }

    /// The error for a refusal of credit, reporting what needs reporting.
    fn refused<P>(&self, refused: endpoint::Refused, payload: P, message_type: &'static str) -> SendError<P> {
        match refused {
            endpoint::Refused::Full => SendError::Full(payload),
            endpoint::Refused::Closed => SendError::Closed(payload),
            endpoint::Refused::NodeDown => {
                self.node_down(message_type);
                SendError::NodeDown(payload)
            }
        }
    }

    /// Encodes and tells `msg` with credit already taken; gives the credit
    /// and the message back if it cannot be encoded.
    fn send_reserved<M: Message>(&self, msg: M) -> Result<(), M> {
        match self.encode(&msg) {
            Some((codec, payload)) => {
                let message_type = std::any::type_name::<M>();
                self.endpoint.send(Outgoing { wire_name: codec.wire_name, message_type, payload, reply: None });
                Ok(())
            }
            None => {
                self.endpoint.unreserve();
                Err(msg)
            }
        }
    }

    fn send_ask<M: Message>(&self, Ask(msg, tx): Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>> {
        let Some((codec, payload)) = self.encode(&msg) else {
            self.endpoint.unreserve();
            return Err(SendError::NotRemote(Ask(msg, tx)));
        };
        let message_type = std::any::type_name::<M>();
        // The chain of waits travels only with asks made by handlers: an ask
        // from a plain task carries nothing and costs nothing more.
        let chain = match asking.asker {
            Some(asker) => deadlock::chain(asker, self.endpoint.id()),
            None => Vec::new(),
        };
        let context = AskContext { chain, deadline: asking.deadline };
        let reply =
            PendingReply::new(tx, codec.decode_reply, self.endpoint.id(), self.actor_type, message_type, context);
        self.endpoint.send(Outgoing { wire_name: codec.wire_name, message_type, payload, reply: Some(reply) });
        Ok(())
    }
}

/// Waits for a remote actor's end, as its node reports it. Given up (the
/// future dropped), it takes its notice back from the transport.
pub(crate) async fn remote_wait_for_stop(target: &RemoteTarget) -> StopReason {
    /// Takes the notice back unless it ran.
    struct Unwatch<'a>(&'a dyn endpoint::RemoteEndpoint, Option<endpoint::WatchKey>);
    impl Drop for Unwatch<'_> {
        fn drop(&mut self) {
            if let Some(key) = self.1.take() {
                self.0.unwatch(key);
            }
        }
    }
    let (tx, rx) = oneshot::channel();
    let key = target.endpoint.watch(Box::new(move |_, reason| {
        let _ = tx.send(reason.clone());
    }));
    let mut watch = Unwatch(&*target.endpoint, key);
    let reason = rx.await.unwrap_or(StopReason::NodeDown);
    // It ran: nothing left to take back.
    watch.1 = None;
    reason
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
