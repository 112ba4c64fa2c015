//! References to actors of another node (feature `serde`): how a message
//! to one is encoded and handed to the transport's endpoint, with credit
//! taken first, and how its end is watched.

use std::cell::Cell;

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::actor::message::{Ask, Message};
use crate::base::deadlock;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::endpoint::{self, AskContext, Outgoing, PendingReply, RemoteTarget};
use crate::reference::sink::{Asking, Sink};

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
            if let Err(refused) = self.endpoint.reserve_ask().await {
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
    ///
    /// The tell is encoded into a buffer this thread keeps for the purpose
    /// and lends to the transport, which copies what it keeps: no
    /// allocation per tell. (Taken out of its slot while in use, so that a
    /// tell sent from inside an encoding finds the slot empty and simply
    /// allocates.)
    fn send_reserved<M: Message>(&self, msg: M) -> Result<(), M> {
        thread_local! {
            static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        }
        /// A larger buffer is not kept between tells.
        const KEEP: usize = 16 * 1024;
        let mut buf = SCRATCH.take();
        buf.clear();
        match self.encode(&msg, buf) {
            Some((codec, buf)) => {
                self.endpoint.send_tell(codec.wire_name, std::any::type_name::<M>(), &buf);
                if buf.capacity() <= KEEP {
                    SCRATCH.set(buf);
                }
                Ok(())
            }
            None => {
                self.endpoint.unreserve();
                Err(msg)
            }
        }
    }

    fn send_ask<M: Message>(&self, Ask(msg, tx): Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>> {
        // Most messages are small: room for one, not from empty.
        let Some((codec, payload)) = self.encode(&msg, Vec::with_capacity(64)) else {
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
